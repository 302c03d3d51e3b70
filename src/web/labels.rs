//! Every word a page shows for one of the API's codes, in one place (UI.md "Words for the API's
//! codes"), so a privacy officer or a translator reads them all at once. A code never reaches a
//! page: each enum has its label here.

use crate::domain::consent::{ConsentMethod, ConsentStatus, Decision, Purpose};
use crate::domain::consultation::{
    Competence, ConsultationStatus, Outcome, Participant, Urgency, VisitKind, VisitStatus,
};
use crate::domain::types::{ConcernDomain, LocationType, Relationship, Role};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Europe::Amsterdam;

pub fn role(r: Role) -> &'static str {
    match r {
        Role::Mentor => "mentor (pedagogisch medewerker)",
        Role::Specialist => "jeugdhulpspecialist",
        Role::Coordinator => "regiocoördinator",
        Role::Policy => "beleidsmedewerker",
        Role::Integration => "koppeling",
        Role::Admin => "beheerder",
    }
}

pub fn purpose(p: Purpose) -> &'static str {
    match p {
        Purpose::Consultation => "meekijken en advies door een specialist (consultatie)",
        Purpose::InformationSharing => "informatie delen",
        Purpose::Referral => "doorverwijzen",
    }
}

pub fn decision(d: Decision) -> &'static str {
    match d {
        Decision::Granted => "toestemming gegeven",
        Decision::Refused => "geen toestemming",
    }
}

/// The state of a consent record as a person reads it: the decision while it is the current
/// one, else what became of it.
pub fn consent_state(
    decision: Decision,
    status: ConsentStatus,
    valid_until: Option<NaiveDate>,
    today: NaiveDate,
) -> &'static str {
    match status {
        ConsentStatus::Withdrawn => "ingetrokken",
        ConsentStatus::Superseded => "vervangen door een nieuwere",
        ConsentStatus::Active if valid_until.is_some_and(|u| u < today) => "verlopen",
        ConsentStatus::Active => self::decision(decision),
    }
}

pub fn method(m: ConsentMethod) -> &'static str {
    match m {
        ConsentMethod::Written => "op papier",
        ConsentMethod::Oral => "mondeling (genoteerd door de mentor)",
        ConsentMethod::Digital => "digitaal door de ouder zelf",
    }
}

pub fn domain(d: ConcernDomain) -> &'static str {
    match d {
        ConcernDomain::Language => "taal",
        ConcernDomain::Motor => "motoriek",
        ConcernDomain::SocialEmotional => "sociaal-emotioneel",
        ConcernDomain::Cognitive => "denken en leren",
        ConcernDomain::Behaviour => "gedrag",
        ConcernDomain::Care => "verzorging en opvoeding",
    }
}

pub fn urgency(u: Urgency) -> &'static str {
    match u {
        Urgency::Normal => "gewoon",
        Urgency::High => "met spoed",
    }
}

pub fn consultation_status(s: ConsultationStatus) -> &'static str {
    match s {
        ConsultationStatus::Requested => "ingediend",
        ConsultationStatus::Offered => "aangeboden aan een specialist",
        ConsultationStatus::Accepted => "geaccepteerd",
        ConsultationStatus::InProgress => "loopt",
        ConsultationStatus::OnHold => "gepauzeerd",
        ConsultationStatus::Unassigned => "wacht op toewijzing door de regio",
        ConsultationStatus::Rejected => "afgewezen",
        ConsultationStatus::Cancelled => "geannuleerd",
        ConsultationStatus::Completed => "afgerond",
    }
}

pub fn visit_kind(k: VisitKind) -> &'static str {
    match k {
        VisitKind::Observation => "observatie op de groep",
        VisitKind::StaffCoaching => "coaching van pedagogisch medewerkers",
        VisitKind::ParentMeeting => "gesprek met ouders",
        VisitKind::TeamMeeting => "teamoverleg",
        VisitKind::Remote => "op afstand",
    }
}

pub fn visit_status(s: VisitStatus) -> &'static str {
    match s {
        VisitStatus::Planned => "gepland",
        VisitStatus::Held => "gehouden",
        VisitStatus::Cancelled => "niet doorgegaan",
    }
}

pub fn participant(p: Participant) -> &'static str {
    match p {
        Participant::Mentor => "de mentor",
        Participant::Practitioner => "andere pedagogisch medewerkers van de groep",
        Participant::Parent => "ouders",
        Participant::Child => "het kind",
        Participant::Team => "het team",
        Participant::LocationManager => "de locatiemanager",
        Participant::OtherProfessional => "een andere professional",
    }
}

/// The four core competences of Alert4you's coaching.
pub fn competence(c: Competence) -> &'static str {
    match c {
        Competence::DevelopmentKnowledge => "kennis van de ontwikkeling van kinderen",
        Competence::StrikingBehaviour => "omgaan met opvallend gedrag",
        Competence::AskingHelp => "hulp vragen",
        Competence::Parents => "omgaan met ouders van kinderen met opvallend gedrag",
    }
}

pub fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::HandledWithinChildcare => "opgelost binnen de opvang",
        Outcome::ReferredYouthCare => "doorverwezen naar jeugdhulp",
        Outcome::ReferredYouthHealthCare => "doorverwezen naar de jeugdgezondheidszorg (JGZ)",
        Outcome::VeiligThuis => "route Veilig Thuis",
        Outcome::ParentsWithdrew => "ouders hebben hun toestemming ingetrokken",
        Outcome::NoConcern => "toch geen zorg",
        Outcome::Other => "anders",
    }
}

/// Why a request stands where it stands (the gateway's own words, see `status_reason` in the
/// API), for a person; an unknown reason is not shown rather than shown in English.
pub fn status_reason(reason: &str) -> String {
    if reason.starts_with("offered to ") {
        return "aangeboden aan een specialist van de regio met deze deskundigheid en de meeste ruimte".into();
    }
    if let Some(counts) = reason.strip_prefix("no specialist could take it: ") {
        let words = [
            ("eligible", "met plaats"),
            ("full", "vol"),
            ("declined before", "wees de aanvraag al af"),
            (
                "not covered by consent",
                "valt niet onder de toestemming van de ouders",
            ),
            ("without the expertise", "zonder deze deskundigheid"),
            ("in other regions", "in een andere regio"),
        ];
        let parts: Vec<String> = counts
            .split(';')
            .next()
            .unwrap_or_default()
            .split(", ")
            .filter_map(|part| {
                let (n, what) = part.trim().split_once(' ')?;
                let n: u32 = n.parse().ok()?;
                let label = words.iter().find(|(en, _)| *en == what)?.1;
                (n > 0).then(|| format!("{n} {label}"))
            })
            .collect();
        return if parts.is_empty() {
            "geen specialist in de regio kon de aanvraag nemen".into()
        } else {
            format!(
                "geen specialist kon de aanvraag nemen (specialisten: {})",
                parts.join(", ")
            )
        };
    }
    match reason {
        "assigned by the region's coordinator" => "toegewezen door de regiocoördinator",
        crate::domain::consultation::HELD_FOR_CONSENT => {
            "de ouders hebben hun toestemming ingetrokken"
        }
        "consent in force again" => "de toestemming van de ouders geldt weer",
        "the child left the childcare organisation" => "het kind gaat niet meer naar deze opvang",
        "cancelled by the childcare organisation" => "geannuleerd door de kinderopvang",
        "rejected by the region's coordinator" => "afgewezen door de regiocoördinator",
        _ => "",
    }
    .into()
}

/// How long until `due`, in words ("nog 2 dagen en 3 uur"; "de tijd is om").
pub fn time_left(due: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let minutes = (due - at).num_minutes();
    if minutes <= 0 {
        return "de tijd is om".into();
    }
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    let unit = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match (days, hours) {
        (0, 0) => format!("nog {}", unit(mins, "minuut", "minuten")),
        (0, h) => format!("nog {}", unit(h, "uur", "uur")),
        (d, 0) => format!("nog {}", unit(d, "dag", "dagen")),
        (d, h) => format!(
            "nog {} en {}",
            unit(d, "dag", "dagen"),
            unit(h, "uur", "uur")
        ),
    }
}

/// How long something has waited since `since` ("3 dagen", "5 uur").
pub fn waited(since: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let hours = (at - since).num_hours().max(0);
    match hours {
        0 => "minder dan een uur".into(),
        1..=47 => format!("{hours} uur"),
        h => format!("{} dagen", h / 24),
    }
}

pub fn location_type(t: LocationType) -> &'static str {
    match t {
        LocationType::Kdv => "kinderdagverblijf",
        LocationType::Bso => "buitenschoolse opvang",
        LocationType::Psz => "peuteropvang",
        LocationType::Gob => "gastouderopvang",
    }
}

pub fn relationship(r: Relationship) -> &'static str {
    match r {
        Relationship::Parent => "ouder",
        Relationship::FosterParent => "pleegouder",
        Relationship::Guardian => "voogd",
        Relationship::Other => "anders",
    }
}

/// The access log's action codes (`read`, `search`, …) in words.
pub fn access_action(code: &str) -> &'static str {
    match code {
        "read" => "bekeken",
        "search" => "gezocht",
        "create" => "aangemaakt",
        "update" => "gewijzigd",
        "delete" => "verwijderd",
        "disclose" => "doorgegeven",
        "export" => "geëxporteerd",
        _ => "iets gedaan",
    }
}

/// What the access log's entry was about (its resource type), in words.
pub fn resource(code: &str) -> &'static str {
    match code {
        "child" => "gegevens van het kind",
        "guardian" => "ouders en verzorgers",
        "mentor" => "de mentor",
        "consent" | "consent_check" => "toestemming",
        "concern" => "een zorg over de ontwikkeling",
        "consultation" | "routing" => "een aanvraag voor een specialist",
        "message" => "berichten over de aanvraag",
        "visit" => "een bezoek van de specialist",
        "outcome" => "de uitkomst",
        "timeline" => "het overzicht van wat er gebeurde",
        "parent_link" => "de link voor ouders",
        "access_log" => "wie de gegevens bekeek",
        "veilig_thuis_report" => "een melding bij Veilig Thuis",
        _ => "gegevens",
    }
}

pub fn access_outcome(code: &str) -> &'static str {
    match code {
        "denied" => "geweigerd",
        _ => "toegestaan",
    }
}

/// An operation's field message in Dutch, beside the field. The messages are the rules' own
/// (in English, for the API); a page shows them in words a mentor reads.
pub fn field_message(message: &str) -> String {
    let m = message;
    if m == "must not be empty" {
        return "Vul dit in.".into();
    }
    if let Some(n) = m
        .strip_prefix("must be at most ")
        .and_then(|r| r.strip_suffix(" characters"))
    {
        return format!("Dit mag hoogstens {n} tekens zijn.");
    }
    let known: &[(&str, &str)] = &[
        ("control characters", "Hier staan tekens in die niet mogen."),
        (
            "must not be in the future",
            "Deze datum ligt in de toekomst.",
        ),
        ("under 18", "Het kind moet jonger zijn dan 18 jaar."),
        ("e-mail", "Vul een geldig e-mailadres in."),
        ("phone", "Vul een geldig telefoonnummer in."),
        (
            "where you may register children",
            "Kies een locatie waar u werkt.",
        ),
        ("active group", "Kies een groep van deze locatie."),
        (
            "location is no longer active",
            "Deze locatie is niet meer in gebruik.",
        ),
        ("BSN", "Dit lijkt een BSN. Vul hier geen BSN in."),
        ("authority_source", "Zeg waar het gezag bekend van is."),
        ("source", "Zeg waar het gezag bekend van is."),
        (
            "not a concern",
            "Kies een zorg die over dit kind is vastgelegd.",
        ),
        (
            "not a guardian",
            "Kies een ouder of verzorger van dit kind.",
        ),
        (
            "already has a child with this external_ref",
            "Dit eigen nummer is al in gebruik.",
        ),
        ("at least one", "Kies er minstens één."),
        ("before", "Deze datum ligt te vroeg."),
    ];
    known
        .iter()
        .find(|(needle, _)| m.contains(needle))
        .map(|(_, nl)| nl.to_string())
        .unwrap_or_else(|| "Dit klopt niet. Kijk het na.".into())
}

/// A consent rule that was not met, in Dutch (the codes of `domain::consent`).
pub fn rule(code: &str, _message: &str) -> String {
    match code {
        "all-guardians-must-consent" => "Beide ouders met gezag moeten toestemming geven.",
        "a-guardian-must-consent" => "Eén ouder met gezag moet toestemming geven.",
        "child-must-consent-too" => "Het kind is 12 jaar of ouder en moet ook zelf toestemming geven.",
        "young-person-consents" | "young-person-decides" => {
            "Het kind is 16 jaar of ouder en beslist zelf. Geef het kind een eigen link."
        }
        "guardian-without-authority" => "Een ouder zonder gezag kan geen toestemming geven.",
        "no-guardian-with-authority" => {
            "Er is nog niemand met gezag vastgelegd. Leg eerst vast wie het gezag heeft."
        }
        "child-under-12" => {
            "Onder de 12 jaar beslissen de ouders met gezag. Het kind wordt gehoord, maar geeft zelf geen toestemming."
        }
        "giver-required" => "Kies wie de toestemming gaf of weigerde.",
        "period" => "De einddatum ligt voor de begindatum.",
        "period-ended" => "De einddatum ligt in het verleden.",
        "not-born" => "Het kind is op die datum nog niet geboren.",
        "one-parent-only-for-information" => {
            "Eén ouder mag alleen voor beiden beslissen als het gaat om informatie delen, niet voor hulp of meekijken."
        }
        "withdrawn" => "De toestemming is ingetrokken.",
        "refused" => "Er is geen toestemming gegeven.",
        "starts-later" => "De toestemming gaat pas later in.",
        "unknown-guardian" => "Deze persoon is geen ouder of verzorger van dit kind.",
        "not-a-giver" => "Alleen wie de toestemming gaf, kan die intrekken.",
        "not-competent-only-from-12" => {
            "Pas vanaf 12 jaar wordt vastgelegd dat een kind hier niet zelf over kan beslissen."
        }
        _ => "Aan een regel voor toestemming is niet voldaan.",
    }
    .to_string()
}

/// The colour of a consent's badge: in force and given, in force and refused, or neither.
pub fn consent_tone(in_force: bool, decision: Decision) -> &'static str {
    match (in_force, decision) {
        (true, Decision::Granted) => "ok",
        (true, Decision::Refused) => "warning",
        _ => "neutral",
    }
}

/// Why consent is not in force, in words: each rule not met, then who must still consent
/// (`any_one`: one of them suffices).
pub fn consent_missing(
    reasons: &[crate::service::consent::RuleView],
    missing: &[crate::service::consent::MissingGiver],
    any_one: bool,
) -> Vec<String> {
    let mut why: Vec<String> = reasons.iter().map(|r| rule(&r.rule, &r.message)).collect();
    let names: Vec<String> = missing.iter().filter_map(|m| m.name.clone()).collect();
    if !names.is_empty() {
        let joiner = if any_one { " of " } else { " en " };
        why.push(format!(
            "Nog nodig: toestemming van {}.",
            names.join(joiner)
        ));
    }
    why
}

const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

/// "1 december 2026".
pub fn date(d: NaiveDate) -> String {
    format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
}

/// "1 december 2026 om 14:05", in Amsterdam time.
pub fn date_time(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&Amsterdam);
    format!("{} om {}", date(local.date_naive()), local.format("%H:%M"))
}

/// An age in words: years, and months under 2 ("1 jaar en 3 maanden", "8 maanden", "5 jaar").
pub fn age(born: NaiveDate, today: NaiveDate) -> String {
    let mut months = (today.year() - born.year()) * 12 + today.month() as i32 - born.month() as i32;
    if today.day() < born.day() {
        months -= 1;
    }
    let months = months.max(0);
    let (years, rest) = (months / 12, months % 12);
    let m = |n: i32| if n == 1 { "maand" } else { "maanden" };
    match years {
        0 => format!("{rest} {}", m(rest)),
        1 if rest > 0 => format!("1 jaar en {rest} {}", m(rest)),
        _ => format!("{years} jaar"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_and_waiting_in_words() {
        let at: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let later = |m: i64| at + chrono::Duration::minutes(m);
        assert_eq!(time_left(later(-5), at), "de tijd is om");
        assert_eq!(time_left(later(45), at), "nog 45 minuten");
        assert_eq!(time_left(later(60), at), "nog 1 uur");
        assert_eq!(time_left(later(24 * 60), at), "nog 1 dag");
        assert_eq!(
            time_left(later(2 * 24 * 60 + 3 * 60 + 10), at),
            "nog 2 dagen en 3 uur"
        );
        assert_eq!(
            waited(at - chrono::Duration::minutes(20), at),
            "minder dan een uur"
        );
        assert_eq!(waited(at - chrono::Duration::hours(30), at), "30 uur");
        assert_eq!(waited(at - chrono::Duration::hours(24 * 5), at), "5 dagen");
    }

    #[test]
    fn routing_reasons_in_words_and_never_in_english() {
        let none = "no specialist could take it: 0 eligible, 2 full, 1 declined before, 0 not covered by consent, 3 without the expertise, 0 in other regions";
        assert_eq!(
            status_reason(none),
            "geen specialist kon de aanvraag nemen (specialisten: 2 vol, 1 wees de aanvraag al af, 3 zonder deze deskundigheid)"
        );
        assert_eq!(status_reason("something new"), "");
        assert!(status_reason("offered to 0190-…: serves the region").starts_with("aangeboden"));
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn dates_and_ages_in_dutch() {
        assert_eq!(date(d("2026-12-01")), "1 december 2026");
        assert_eq!(age(d("2026-04-15"), d("2026-12-01")), "7 maanden");
        assert_eq!(age(d("2025-11-01"), d("2026-12-01")), "1 jaar en 1 maand");
        assert_eq!(age(d("2025-12-01"), d("2026-12-01")), "1 jaar");
        assert_eq!(age(d("2018-12-02"), d("2026-12-01")), "7 jaar");
        assert_eq!(age(d("2026-12-01"), d("2026-12-01")), "0 maanden");
    }

    #[test]
    fn a_consent_reads_as_what_became_of_it() {
        let today = d("2026-12-01");
        assert_eq!(
            consent_state(Decision::Granted, ConsentStatus::Active, None, today),
            "toestemming gegeven"
        );
        assert_eq!(
            consent_state(
                Decision::Granted,
                ConsentStatus::Active,
                Some(d("2026-11-30")),
                today
            ),
            "verlopen"
        );
        assert_eq!(
            consent_state(Decision::Granted, ConsentStatus::Withdrawn, None, today),
            "ingetrokken"
        );
    }
}
