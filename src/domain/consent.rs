//! Parental consent: who must consent, and whether consent is in force for a purpose toward a
//! recipient at an instant. Every rule of consent lives here, with its source, so a privacy
//! officer can check and change it in one place.
//!
//! Sources (see DOMAIN.md):
//! - Jeugdwet §7.3 (art. 7.3.4), mirroring WGBO art. 7:447 and 7:450 BW: under 12 the parents
//!   with parental authority (*gezag*) consent; from 12 to 15 the child and those parents; from
//!   16 the young person alone, unless not competent (*wilsonbekwaam*), when the parents decide.
//!   Age is judged on the (Dutch) day the consent is used.
//! - Joint authority (BW 1:245, 1:253): for help, observation or coaching (a consultation, a
//!   referral) both parents with authority consent; to share information one may act for both
//!   when there are no signs the other disagrees.
//! - AVG/GDPR art. 4(11), 7: consent is specific (purpose, recipient), provable, and withdrawable;
//!   a refusal is recorded too, and a withdrawal stops all further use at once.
//! - Meldcode (art. 5.2.6 Wmo 2015): informing Veilig Thuis without consent unlocks nothing here.

use super::calendar::{age_on, dutch_date};
use super::types::RegionCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

crate::text_enum! {
    /// What the consent is for.
    pub enum Purpose {
        /// Consultation, advice or temporary support by a youth-care specialist (help, observation
        /// and coaching of the child).
        Consultation => "consultation",
        /// Sharing information about the child, without help.
        InformationSharing => "information_sharing",
        /// Referring the child on to youth care, youth health care or other help.
        Referral => "referral",
    }
}

crate::text_enum! {
    pub enum Decision {
        Granted => "granted",
        Refused => "refused",
    }
}

crate::text_enum! {
    /// How the consent was given (provability, AVG art. 7(1)).
    pub enum ConsentMethod {
        /// On paper, with a reference to the signed form.
        Written => "written",
        /// Spoken, noted by a named staff member.
        Oral => "oral",
        /// By the parent or young person themselves, through a parent link or portal.
        Digital => "digital",
    }
}

crate::text_enum! {
    /// Where a record stands. Records are never edited: a newer decision supersedes.
    pub enum ConsentStatus {
        /// The current decision of its givers.
        Active => "active",
        /// Replaced by a newer decision of the same givers.
        Superseded => "superseded",
        /// Withdrawn; what was done before stays lawful.
        Withdrawn => "withdrawn",
    }
}

impl Purpose {
    /// What is asked, in plain Dutch, for the parent's page (B1 level, no jargon).
    pub fn explanation_nl(self) -> &'static str {
        match self {
            Purpose::Consultation => {
                "De mentor van uw kind wil graag advies van een specialist in jeugdhulp. De specialist \
                 komt kijken op de groep, geeft de pedagogisch medewerkers tips en praat met u. Zo \
                 krijgt uw kind hulp in zijn of haar eigen omgeving. Daarvoor delen wij wat wij zien \
                 over de ontwikkeling van uw kind met deze specialist."
            }
            Purpose::InformationSharing => {
                "De kinderopvang wil informatie over de ontwikkeling van uw kind delen met de genoemde \
                 organisatie. Er wordt geen hulp gestart; het gaat alleen om het delen van informatie."
            }
            Purpose::Referral => {
                "De specialist wil uw kind doorverwijzen naar passende hulp. Daarvoor wordt informatie \
                 over uw kind gedeeld met de organisatie die die hulp geeft."
            }
        }
    }
}

/// What a parent is told about their rights, on every parent page.
pub const RIGHTS_NL: &str =
    "U mag ja of nee zeggen. Nee zeggen heeft geen gevolgen voor de opvang \
     van uw kind. U kunt uw toestemming altijd weer intrekken; daarna wordt niets meer gedeeld. \
     U kunt zien wie de gegevens van uw kind heeft ingezien.";

crate::text_enum! {
    /// What a parent link is for.
    pub enum LinkKind {
        /// An invitation to decide on one consent; after deciding it stays the holder's page
        /// (that child's consents, withdrawal, the access log) until it expires.
        Invitation => "invitation",
        /// A standing link to the holder's consents and access log.
        Standing => "standing",
    }
}

crate::text_enum! {
    /// Whose a parent link is.
    pub enum LinkHolder {
        /// A parent or carer of the child.
        Guardian => "guardian",
        /// The child's own link, from 12.
        Child => "child",
    }
}

/// Who gives (or refuses, or withdraws) consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Giver {
    Guardian(Uuid),
    Child,
}

/// To whom the data would go: a youth-care organisation, or the specialists of a region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    Organization(Uuid),
    Region(RegionCode),
}

/// The party a use of data is for: an organisation, and the region the child is served in.
/// Without an organisation the question is about "the specialists of the region" as such.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub organization_id: Option<Uuid>,
    pub region: Option<RegionCode>,
}

/// A guardian as the rules see them.
#[derive(Debug, Clone, Copy)]
pub struct GuardianFact {
    pub id: Uuid,
    pub has_parental_authority: bool,
}

/// A consent record as the rules see it.
#[derive(Debug, Clone)]
pub struct ConsentFact {
    pub id: Uuid,
    pub purpose: Purpose,
    pub recipient: Recipient,
    /// For a region-wide consent: the youth-care organisations serving the region when it was
    /// given. The parents were told "the specialists of region X", so it covers those and no
    /// provider that joined the region later (AVG art. 4(11): specific, informed).
    pub region_organizations: Vec<Uuid>,
    pub decision: Decision,
    pub status: ConsentStatus,
    pub givers: Vec<Giver>,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub no_signs_of_disagreement: bool,
    /// A child of 12 or older judged not competent in the matter (*wilsonbekwaam*, WGBO
    /// 7:465(2)): the parents decide for them. Who judged it, when and why is on the record.
    pub child_not_competent: bool,
    pub recorded_at: DateTime<Utc>,
}

impl ConsentFact {
    fn in_period(&self, on: NaiveDate) -> bool {
        self.valid_from <= on && self.valid_until.is_none_or(|u| on <= u)
    }

    /// Does this record's recipient cover `target`? An organisation covers itself; a region
    /// covers the region as such, and each organisation that served it when the consent was given.
    pub fn covers(&self, target: &Target) -> bool {
        match &self.recipient {
            Recipient::Organization(o) => target.organization_id == Some(*o),
            Recipient::Region(r) => {
                target.region.as_ref() == Some(r)
                    && target
                        .organization_id
                        .is_none_or(|o| self.region_organizations.contains(&o))
            }
        }
    }
}

/// Which guardians must consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardianRule {
    /// Every guardian with parental authority.
    All(Vec<Uuid>),
    /// Any one of them (information sharing without signs of disagreement).
    AnyOne(Vec<Uuid>),
    /// None: the young person decides alone.
    NotNeeded,
}

/// Who must consent, for a purpose, on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub guardians: GuardianRule,
    pub child: bool,
    pub age: u32,
}

/// A rule of consent that a decision or a use does not meet; `rule` is a stable identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleFailure {
    pub rule: &'static str,
    pub message: String,
}

impl RuleFailure {
    fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }
}

/// The child is judged to be 12 from its 12th birthday (Jeugdwet §7.3 / WGBO 7:447, 7:450).
pub const CHILD_CONSENTS_FROM: u32 = 12;
/// From 16 the young person consents alone (WGBO 7:447 lid 1).
pub const CHILD_ALONE_FROM: u32 = 16;

/// Who must consent to `purpose` for a child of `age`.
pub fn requirement(
    age: u32,
    purpose: Purpose,
    guardians: &[GuardianFact],
    no_signs_of_disagreement: bool,
    child_not_competent: bool,
) -> Result<Requirement, RuleFailure> {
    let with_authority: Vec<Uuid> = guardians
        .iter()
        .filter(|g| g.has_parental_authority)
        .map(|g| g.id)
        .collect();
    let parents = || {
        if purpose == Purpose::InformationSharing && no_signs_of_disagreement {
            GuardianRule::AnyOne(with_authority.clone())
        } else {
            GuardianRule::All(with_authority.clone())
        }
    };
    // from 12 a child judged not competent in the matter does not consent; the parents with
    // authority decide for them (WGBO 7:465(2))
    let (guardians_rule, child) = if age < CHILD_CONSENTS_FROM || child_not_competent {
        (parents(), false)
    } else if age < CHILD_ALONE_FROM {
        (parents(), true)
    } else {
        (GuardianRule::NotNeeded, true)
    };
    if guardians_rule != GuardianRule::NotNeeded && with_authority.is_empty() {
        return Err(RuleFailure::new(
            "no-guardian-with-authority",
            "no guardian with parental authority is recorded for this child; record who holds gezag first",
        ));
    }
    Ok(Requirement {
        guardians: guardians_rule,
        child,
        age,
    })
}

/// The answer to "may this purpose toward this target happen now?", with the reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentCheck {
    pub allowed: bool,
    /// The most recent granted record the permission rests on.
    pub consent_id: Option<Uuid>,
    /// Every granted record the permission rests on (the latest grant of each giver counted).
    pub relied_on: Vec<Uuid>,
    /// Who still must consent. With `any_one_guardian`, one of the listed guardians suffices.
    pub missing: Vec<Giver>,
    pub any_one_guardian: bool,
    /// Who refused (or whose latest decision is a refusal).
    pub refused_by: Vec<Giver>,
    pub reasons: Vec<RuleFailure>,
    /// The child's age on the day judged.
    pub age: Option<u32>,
}

/// Is consent for `purpose` toward `target` in force for the child born `born` at `at`?
/// Only active, covering records whose period includes the Dutch date of `at` count; each
/// giver's latest such decision stands.
pub fn consent_in_force(
    born: NaiveDate,
    guardians: &[GuardianFact],
    records: &[ConsentFact],
    purpose: Purpose,
    target: &Target,
    at: DateTime<Utc>,
) -> ConsentCheck {
    let on = dutch_date(at);
    let mut check = ConsentCheck {
        allowed: false,
        consent_id: None,
        relied_on: Vec::new(),
        missing: Vec::new(),
        any_one_guardian: false,
        refused_by: Vec::new(),
        reasons: Vec::new(),
        age: age_on(born, on),
    };
    let Some(age) = check.age else {
        check.reasons.push(RuleFailure::new(
            "not-born",
            "the child is not born on this date",
        ));
        return check;
    };
    let covering: Vec<&ConsentFact> = records
        .iter()
        .filter(|r| r.purpose == purpose && r.covers(target))
        .collect();
    let mut relevant: Vec<&ConsentFact> = covering
        .iter()
        .filter(|r| r.status == ConsentStatus::Active && r.in_period(on))
        .copied()
        .collect();
    relevant.sort_by_key(|r| r.recorded_at);
    let granted: Vec<&&ConsentFact> = relevant
        .iter()
        .filter(|r| r.decision == Decision::Granted)
        .collect();
    let no_signs = granted.iter().any(|r| r.no_signs_of_disagreement);
    let not_competent = granted.iter().any(|r| r.child_not_competent);
    let req = match requirement(age, purpose, guardians, no_signs, not_competent) {
        Ok(r) => r,
        Err(f) => {
            check.reasons.push(f);
            return check;
        }
    };
    // each giver's latest decision (records sorted oldest first)
    let latest = |g: Giver| -> Option<&ConsentFact> {
        relevant
            .iter()
            .rev()
            .find(|r| r.givers.contains(&g))
            .copied()
    };
    let decided = |g: Giver| latest(g).map(|r| r.decision);
    let authority: Vec<Uuid> = guardians
        .iter()
        .filter(|g| g.has_parental_authority)
        .map(|g| g.id)
        .collect();
    // a refusal by anyone whose consent counts stops the use (and is a sign of disagreement)
    if req.guardians != GuardianRule::NotNeeded {
        for id in &authority {
            if decided(Giver::Guardian(*id)) == Some(Decision::Refused) {
                check.refused_by.push(Giver::Guardian(*id));
            }
        }
    }
    if req.child && decided(Giver::Child) == Some(Decision::Refused) {
        check.refused_by.push(Giver::Child);
    }
    match &req.guardians {
        GuardianRule::All(ids) => {
            for id in ids {
                if decided(Giver::Guardian(*id)) != Some(Decision::Granted) {
                    check.missing.push(Giver::Guardian(*id));
                }
            }
            if !check.missing.is_empty() {
                check.reasons.push(RuleFailure::new(
                    "all-guardians-must-consent",
                    if ids.len() > 1 {
                        "every parent with parental authority must consent (Jeugdwet §7.3, BW 1:245)"
                    } else {
                        "the parent with parental authority must consent (Jeugdwet §7.3)"
                    },
                ));
            }
        }
        GuardianRule::AnyOne(ids) => {
            if !ids
                .iter()
                .any(|id| decided(Giver::Guardian(*id)) == Some(Decision::Granted))
            {
                check
                    .missing
                    .extend(ids.iter().map(|id| Giver::Guardian(*id)));
                check.any_one_guardian = true;
                check.reasons.push(RuleFailure::new(
                    "a-guardian-must-consent",
                    "one parent with parental authority must consent to share information",
                ));
            }
        }
        GuardianRule::NotNeeded => {}
    }
    if req.child && decided(Giver::Child) != Some(Decision::Granted) {
        check.missing.push(Giver::Child);
        check.reasons.push(if age >= CHILD_ALONE_FROM {
            RuleFailure::new(
                "young-person-consents",
                format!("from {CHILD_ALONE_FROM} the young person consents (WGBO 7:447)"),
            )
        } else {
            RuleFailure::new(
                "child-must-consent-too",
                format!("a child of {age} must consent too, besides the parents (Jeugdwet §7.3)"),
            )
        });
    }
    if !check.refused_by.is_empty() {
        check
            .reasons
            .push(RuleFailure::new("refused", "consent was refused"));
    }
    explain_missing(&mut check, &covering, on);
    check.allowed = check.missing.is_empty()
        && check.refused_by.is_empty()
        && !check.reasons.iter().any(|r| r.rule == "starts-later");
    if check.allowed {
        check.consent_id = granted.last().map(|r| r.id);
        let mut givers: Vec<Giver> = authority.iter().map(|id| Giver::Guardian(*id)).collect();
        givers.push(Giver::Child);
        for g in givers {
            if let Some(r) = latest(g).filter(|r| r.decision == Decision::Granted) {
                if !check.relied_on.contains(&r.id) {
                    check.relied_on.push(r.id);
                }
            }
        }
    }
    check
}

/// Says why each missing giver counts as missing when their own latest decision explains it:
/// a consent that was withdrawn, one whose period ended, or one that has not started yet (that
/// giver need not be asked again: they are taken off `missing`). Names no one: the rule only.
fn explain_missing(check: &mut ConsentCheck, covering: &[&ConsentFact], on: NaiveDate) {
    let mut reasons: Vec<RuleFailure> = Vec::new();
    let mut add = |r: RuleFailure| {
        if !reasons
            .iter()
            .any(|x| x.rule == r.rule && x.message == r.message)
        {
            reasons.push(r);
        }
    };
    let mut still_missing = Vec::new();
    for g in std::mem::take(&mut check.missing) {
        let latest = covering
            .iter()
            .filter(|r| r.givers.contains(&g) && r.status != ConsentStatus::Superseded)
            .max_by_key(|r| r.recorded_at);
        match latest {
            Some(r) if r.status == ConsentStatus::Withdrawn => {
                add(RuleFailure::new(
                    "withdrawn",
                    "consent was withdrawn; nothing further happens under it (AVG art. 7(3))",
                ));
                still_missing.push(g);
            }
            Some(r) if r.decision == Decision::Granted && r.valid_from > on => {
                add(RuleFailure::new(
                    "starts-later",
                    format!("the consent given starts on {}", r.valid_from),
                ));
            }
            Some(r) if r.decision == Decision::Granted && r.valid_until.is_some_and(|u| u < on) => {
                add(RuleFailure::new(
                    "period-ended",
                    format!(
                        "the consent given ended on {}; ask again",
                        r.valid_until.expect("checked")
                    ),
                ));
                still_missing.push(g);
            }
            _ => still_missing.push(g),
        }
    }
    check.missing = still_missing;
    check.reasons.extend(reasons);
}

/// How far ahead a birthday within a consent's period is warned about.
pub const BIRTHDAY_WARNING_DAYS: i64 = 730;

/// The birthdays within a consent's period (and the next two years from `today`) that change
/// who must consent (12: the child too; 16: the young person alone), as warnings for whoever
/// records it. A parents-only consent spanning the 12th birthday stops covering further help on
/// that day.
pub fn period_warnings(born: NaiveDate, new: &NewDecision, today: NaiveDate) -> Vec<RuleFailure> {
    use chrono::Datelike;
    let mut out = Vec::new();
    if new.decision != Decision::Granted || new.child_not_competent {
        return out;
    }
    let child_gives = new.givers.contains(&Giver::Child);
    for (years, warning) in [
        (CHILD_CONSENTS_FROM, "turns-12-during-period"),
        (CHILD_ALONE_FROM, "turns-16-during-period"),
    ] {
        let day = super::calendar::birthday_in(born, born.year() + years as i32);
        let within = new.valid_from < day
            && new.valid_until.is_none_or(|u| day <= u)
            && today < day
            && day <= today + chrono::Duration::days(BIRTHDAY_WARNING_DAYS);
        if !within {
            continue;
        }
        let message = if years == CHILD_CONSENTS_FROM && !child_gives {
            format!(
                "the child turns 12 on {day}: from that day this consent covers nothing further until the child consents too (Jeugdwet §7.3)"
            )
        } else if years == CHILD_ALONE_FROM {
            format!(
                "the young person turns 16 on {day}: from that day they decide alone, and the parents' consent no longer counts (WGBO 7:447)"
            )
        } else {
            continue;
        };
        out.push(RuleFailure::new(warning, message));
    }
    out
}

/// A decision about to be recorded.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub purpose: Purpose,
    pub recipient: Recipient,
    /// For a region-wide consent: the organisations serving the region now (what it covers).
    pub region_organizations: Vec<Uuid>,
    pub decision: Decision,
    pub givers: Vec<Giver>,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub no_signs_of_disagreement: bool,
    pub child_not_competent: bool,
}

/// Checks a decision recorded by staff or a partner system, judged on `today` (or its
/// `valid_from`, when later). A grant must, together with the decisions already in force, meet
/// who-must-consent; a refusal by any one giver is always recordable. `Err` names each rule.
pub fn check_new_decision(
    born: NaiveDate,
    guardians: &[GuardianFact],
    existing: &[ConsentFact],
    new: &NewDecision,
    at: DateTime<Utc>,
    require_complete: bool,
) -> Result<(), Vec<RuleFailure>> {
    let today = dutch_date(at);
    let judged_on = today.max(new.valid_from);
    let mut failures = Vec::new();
    if new.givers.is_empty() {
        failures.push(RuleFailure::new(
            "giver-required",
            "say who gave or refused consent",
        ));
    }
    if new.valid_until.is_some_and(|u| u < new.valid_from) {
        failures.push(RuleFailure::new(
            "period",
            "valid_until is before valid_from",
        ));
    }
    let Some(age) = age_on(born, judged_on) else {
        failures.push(RuleFailure::new(
            "not-born",
            "the child is not born on valid_from",
        ));
        return Err(failures);
    };
    for g in &new.givers {
        match g {
            Giver::Guardian(id) => match guardians.iter().find(|x| x.id == *id) {
                None => failures.push(RuleFailure::new("unknown-guardian", "a giver is not a guardian of this child")),
                Some(x) if !x.has_parental_authority => failures.push(RuleFailure::new(
                    "guardian-without-authority",
                    "a guardian without parental authority cannot consent (BW 1:245)",
                )),
                Some(_) => {}
            },
            Giver::Child if age < CHILD_CONSENTS_FROM => failures.push(RuleFailure::new(
                "child-under-12",
                "under 12 the parents with authority decide; the child is heard but does not consent itself",
            )),
            Giver::Child => {}
        }
    }
    if new.child_not_competent && age < CHILD_CONSENTS_FROM {
        failures.push(RuleFailure::new(
            "not-competent-only-from-12",
            "under 12 the parents decide anyway; a judgement that the child is not competent is recorded from 12 (WGBO 7:465(2))",
        ));
    }
    if new.decision == Decision::Granted && new.valid_until.is_some_and(|u| u < today) {
        failures.push(RuleFailure::new(
            "period-ended",
            "valid_until lies in the past: a consent whose period has ended cannot be recorded as in force",
        ));
    }
    if new.no_signs_of_disagreement && new.purpose != Purpose::InformationSharing {
        failures.push(RuleFailure::new(
            "one-parent-only-for-information",
            "one parent may act for both only to share information, not for help, observation or coaching",
        ));
    }
    if !failures.is_empty() || new.decision == Decision::Refused || !require_complete {
        return if failures.is_empty() {
            Ok(())
        } else {
            Err(failures)
        };
    }
    // would the grant, with what is already in force, meet who-must-consent on the day judged?
    let probe_id = Uuid::nil();
    let mut records: Vec<ConsentFact> = existing
        .iter()
        .filter(|r| !supersedes(new, r))
        .cloned()
        .collect();
    let region_organizations = match &new.recipient {
        Recipient::Region(_) => new.region_organizations.clone(),
        Recipient::Organization(_) => Vec::new(),
    };
    records.push(ConsentFact {
        id: probe_id,
        purpose: new.purpose,
        recipient: new.recipient.clone(),
        region_organizations,
        decision: new.decision,
        status: ConsentStatus::Active,
        givers: new.givers.clone(),
        valid_from: new.valid_from,
        valid_until: new.valid_until,
        no_signs_of_disagreement: new.no_signs_of_disagreement,
        child_not_competent: new.child_not_competent,
        recorded_at: at,
    });
    let target = match &new.recipient {
        Recipient::Organization(o) => Target {
            organization_id: Some(*o),
            region: None,
        },
        Recipient::Region(r) => Target {
            organization_id: None,
            region: Some(r.clone()),
        },
    };
    let judged_at = if judged_on > today {
        judged_on
            .and_hms_opt(12, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(at)
    } else {
        at
    };
    let check = consent_in_force(born, guardians, &records, new.purpose, &target, judged_at);
    if check.allowed {
        Ok(())
    } else {
        Err(check.reasons)
    }
}

/// Does `new` replace `old`? The latest decision of the same givers on the same purpose toward
/// the same recipient stands; a decision of other givers leaves theirs in place.
pub fn supersedes(new: &NewDecision, old: &ConsentFact) -> bool {
    old.status == ConsentStatus::Active
        && old.purpose == new.purpose
        && old.recipient == new.recipient
        && old.givers.iter().all(|g| new.givers.contains(g))
}

/// May `by` withdraw a record given by `givers`? The one who gave it (AVG art. 7(3): as easy as
/// giving it), including the child where the child consented.
pub fn may_withdraw(givers: &[Giver], by: Giver) -> Result<(), RuleFailure> {
    if givers.contains(&by) {
        Ok(())
    } else {
        Err(RuleFailure::new(
            "not-a-giver",
            "only someone who gave this consent can withdraw it",
        ))
    }
}

/// May `holder` be sent an invitation to decide for a child of `age` (the Dutch day today)?
/// A child from 12 decides too; from 16 the young person decides alone, so a parent is not
/// asked (unless a judgement of incompetence is recorded with a decision, which staff do).
pub fn may_invite(age: u32, holder: Giver, has_authority: bool) -> Result<(), RuleFailure> {
    match holder {
        Giver::Child if age < CHILD_CONSENTS_FROM => Err(RuleFailure::new(
            "child-under-12",
            "under 12 the parents with authority decide; the child is heard but does not consent itself",
        )),
        Giver::Child => Ok(()),
        Giver::Guardian(_) if !has_authority => Err(RuleFailure::new(
            "guardian-without-authority",
            "a guardian without parental authority cannot consent (BW 1:245)",
        )),
        Giver::Guardian(_) if age >= CHILD_ALONE_FROM => Err(young_person_decides()),
        Giver::Guardian(_) => Ok(()),
    }
}

fn young_person_decides() -> RuleFailure {
    RuleFailure::new(
        "young-person-decides",
        format!(
            "from {CHILD_ALONE_FROM} the young person decides alone and what they share is theirs: a parent sees it only with their consent (WGBO 7:447, 7:457); give the young person its own link"
        ),
    )
}

/// What the holder of an overview link sees of a child of `age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverviewScope {
    /// Every consent record of the child and the child's access log.
    Everything,
    /// Only the records the holder decided themselves, and no access log: from 16 the young
    /// person's own decisions and who saw their data are theirs (WGBO 7:457).
    OwnDecisionsOnly,
}

/// What a link's holder may see, judged on the day the link is used (a child turns 16 while a
/// link is open). A child's own link is theirs from 12.
pub fn overview_scope(age: u32, holder: Giver) -> Result<OverviewScope, RuleFailure> {
    match holder {
        Giver::Child if age < CHILD_CONSENTS_FROM => Err(RuleFailure::new(
            "child-under-12",
            "a child gets its own link from 12",
        )),
        Giver::Child => Ok(OverviewScope::Everything),
        Giver::Guardian(_) if age >= CHILD_ALONE_FROM => Ok(OverviewScope::OwnDecisionsOnly),
        Giver::Guardian(_) => Ok(OverviewScope::Everything),
    }
}

/// May a new overview link be made for `holder`? Not for a parent of a young person of 16 or
/// older (the young person gets its own), not for a child under 12.
pub fn may_give_overview(age: u32, holder: Giver) -> Result<(), RuleFailure> {
    match overview_scope(age, holder)? {
        OverviewScope::Everything => Ok(()),
        OverviewScope::OwnDecisionsOnly => Err(young_person_decides()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Duration, TimeZone};
    use proptest::prelude::*;

    const A: Uuid = Uuid::from_u128(0xA);
    const B: Uuid = Uuid::from_u128(0xB);
    const ORG: Uuid = Uuid::from_u128(0x0C);

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn noon(day: NaiveDate) -> DateTime<Utc> {
        // 12:00 in Amsterdam is 10:00 or 11:00 UTC: the same Dutch day
        day.and_hms_opt(10, 30, 0).unwrap().and_utc()
    }

    fn parents(n: usize) -> Vec<GuardianFact> {
        [A, B]
            .iter()
            .take(n)
            .map(|id| GuardianFact {
                id: *id,
                has_parental_authority: true,
            })
            .collect()
    }

    fn target() -> Target {
        Target {
            organization_id: Some(ORG),
            region: None,
        }
    }

    fn grant(givers: &[Giver], purpose: Purpose, from: &str) -> ConsentFact {
        ConsentFact {
            id: Uuid::now_v7(),
            purpose,
            recipient: Recipient::Organization(ORG),
            region_organizations: Vec::new(),
            decision: Decision::Granted,
            status: ConsentStatus::Active,
            givers: givers.to_vec(),
            valid_from: d(from),
            valid_until: None,
            no_signs_of_disagreement: false,
            child_not_competent: false,
            recorded_at: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
        }
    }

    fn check(
        born: &str,
        guardians: &[GuardianFact],
        records: &[ConsentFact],
        purpose: Purpose,
        on: &str,
    ) -> ConsentCheck {
        consent_in_force(d(born), guardians, records, purpose, &target(), noon(d(on)))
    }

    #[test]
    fn under_12_both_parents_consent_to_a_consultation() {
        let one = [grant(
            &[Giver::Guardian(A)],
            Purpose::Consultation,
            "2025-01-01",
        )];
        let c = check(
            "2018-05-10",
            &parents(2),
            &one,
            Purpose::Consultation,
            "2026-01-01",
        );
        assert!(!c.allowed);
        assert_eq!(c.missing, [Giver::Guardian(B)]);
        assert_eq!(c.reasons[0].rule, "all-guardians-must-consent");
        let both = [grant(
            &[Giver::Guardian(A), Giver::Guardian(B)],
            Purpose::Consultation,
            "2025-01-01",
        )];
        let c = check(
            "2018-05-10",
            &parents(2),
            &both,
            Purpose::Consultation,
            "2026-01-01",
        );
        assert!(c.allowed);
        assert_eq!(c.consent_id, Some(both[0].id));
        // separately given decisions add up
        let separate = [
            grant(&[Giver::Guardian(A)], Purpose::Consultation, "2025-01-01"),
            grant(&[Giver::Guardian(B)], Purpose::Consultation, "2025-01-01"),
        ];
        assert!(
            check(
                "2018-05-10",
                &parents(2),
                &separate,
                Purpose::Consultation,
                "2026-01-01"
            )
            .allowed
        );
    }

    #[test]
    fn one_parent_shares_information_only_without_signs_of_disagreement() {
        let mut one = grant(
            &[Giver::Guardian(A)],
            Purpose::InformationSharing,
            "2025-01-01",
        );
        assert!(
            !check(
                "2018-05-10",
                &parents(2),
                &[one.clone()],
                Purpose::InformationSharing,
                "2026-01-01"
            )
            .allowed
        );
        one.no_signs_of_disagreement = true;
        assert!(
            check(
                "2018-05-10",
                &parents(2),
                &[one.clone()],
                Purpose::InformationSharing,
                "2026-01-01"
            )
            .allowed
        );
        // the other parent's refusal is a sign of disagreement
        let mut refusal = grant(
            &[Giver::Guardian(B)],
            Purpose::InformationSharing,
            "2025-01-01",
        );
        refusal.decision = Decision::Refused;
        let c = check(
            "2018-05-10",
            &parents(2),
            &[one, refusal],
            Purpose::InformationSharing,
            "2026-01-01",
        );
        assert!(!c.allowed);
        assert_eq!(c.refused_by, [Giver::Guardian(B)]);
    }

    #[test]
    fn a_guardian_without_authority_cannot_consent() {
        let guardians = [
            GuardianFact {
                id: A,
                has_parental_authority: true,
            },
            GuardianFact {
                id: B,
                has_parental_authority: false,
            },
        ];
        let new = NewDecision {
            purpose: Purpose::Consultation,
            recipient: Recipient::Organization(ORG),
            region_organizations: Vec::new(),
            decision: Decision::Granted,
            givers: vec![Giver::Guardian(B)],
            valid_from: d("2026-01-01"),
            valid_until: None,
            no_signs_of_disagreement: false,
            child_not_competent: false,
        };
        let err = check_new_decision(
            d("2018-01-01"),
            &guardians,
            &[],
            &new,
            noon(d("2026-01-01")),
            true,
        )
        .unwrap_err();
        assert_eq!(err[0].rule, "guardian-without-authority");
        // and the one with authority alone suffices: the other's consent is not needed
        let new = NewDecision {
            givers: vec![Giver::Guardian(A)],
            ..new
        };
        check_new_decision(
            d("2018-01-01"),
            &guardians,
            &[],
            &new,
            noon(d("2026-01-01")),
            true,
        )
        .unwrap();
    }

    #[test]
    fn nobody_with_authority_means_nobody_can_consent() {
        let guardians = [GuardianFact {
            id: A,
            has_parental_authority: false,
        }];
        let c = check(
            "2018-05-10",
            &guardians,
            &[],
            Purpose::Consultation,
            "2026-01-01",
        );
        assert_eq!(c.reasons[0].rule, "no-guardian-with-authority");
    }

    #[test]
    fn sixteen_and_older_decide_alone_unless_not_competent() {
        let parents_only = [grant(
            &[Giver::Guardian(A), Giver::Guardian(B)],
            Purpose::Consultation,
            "2025-01-01",
        )];
        let c = check(
            "2009-03-01",
            &parents(2),
            &parents_only,
            Purpose::Consultation,
            "2026-01-01",
        );
        assert!(!c.allowed);
        assert_eq!(c.missing, [Giver::Child]);
        assert_eq!(c.reasons[0].rule, "young-person-consents");
        let child = [grant(&[Giver::Child], Purpose::Consultation, "2025-01-01")];
        assert!(
            check(
                "2009-03-01",
                &parents(2),
                &child,
                Purpose::Consultation,
                "2026-01-01"
            )
            .allowed
        );
        let mut not_competent = parents_only[0].clone();
        not_competent.child_not_competent = true;
        assert!(
            check(
                "2009-03-01",
                &parents(2),
                &[not_competent],
                Purpose::Consultation,
                "2026-01-01"
            )
            .allowed
        );
    }

    #[test]
    fn withdrawn_superseded_expired_and_other_recipients_do_not_count() {
        let both = grant(
            &[Giver::Guardian(A), Giver::Guardian(B)],
            Purpose::Consultation,
            "2025-01-01",
        );
        let mut withdrawn = both.clone();
        withdrawn.status = ConsentStatus::Withdrawn;
        let mut superseded = both.clone();
        superseded.status = ConsentStatus::Superseded;
        let mut expired = both.clone();
        expired.valid_until = Some(d("2025-12-31"));
        let mut future = both.clone();
        future.valid_from = d("2026-01-02");
        let mut elsewhere = both.clone();
        elsewhere.recipient = Recipient::Organization(Uuid::from_u128(99));
        let mut other_purpose = both.clone();
        other_purpose.purpose = Purpose::Referral;
        for r in [
            withdrawn,
            superseded,
            expired,
            future,
            elsewhere,
            other_purpose,
        ] {
            assert!(
                !check(
                    "2018-05-10",
                    &parents(2),
                    &[r],
                    Purpose::Consultation,
                    "2026-01-01"
                )
                .allowed
            );
        }
        // the last day of the period still counts
        let mut last_day = both.clone();
        last_day.valid_until = Some(d("2026-01-01"));
        assert!(
            check(
                "2018-05-10",
                &parents(2),
                &[last_day],
                Purpose::Consultation,
                "2026-01-01"
            )
            .allowed
        );
    }

    #[test]
    fn region_consent_covers_the_region_only() {
        let region: RegionCode = "JZ22".parse().unwrap();
        let mut r = grant(&[Giver::Guardian(A)], Purpose::Consultation, "2025-01-01");
        r.recipient = Recipient::Region(region.clone());
        r.region_organizations = vec![ORG];
        let born = d("2018-05-10");
        let in_region = Target {
            organization_id: Some(ORG),
            region: Some(region),
        };
        assert!(
            consent_in_force(
                born,
                &parents(1),
                &[r.clone()],
                Purpose::Consultation,
                &in_region,
                noon(d("2026-01-01"))
            )
            .allowed
        );
        let other = Target {
            organization_id: Some(ORG),
            region: Some("JZ14".parse().unwrap()),
        };
        assert!(
            !consent_in_force(
                born,
                &parents(1),
                &[r],
                Purpose::Consultation,
                &other,
                noon(d("2026-01-01"))
            )
            .allowed
        );
    }

    #[test]
    fn region_consent_covers_only_the_providers_of_its_day() {
        let region: RegionCode = "JZ22".parse().unwrap();
        let mut r = grant(&[Giver::Guardian(A)], Purpose::Consultation, "2025-01-01");
        r.recipient = Recipient::Region(region.clone());
        r.region_organizations = vec![ORG];
        let newcomer = Target {
            organization_id: Some(Uuid::from_u128(0x0D)),
            region: Some(region.clone()),
        };
        let at = noon(d("2026-01-01"));
        assert!(
            !consent_in_force(
                d("2018-05-10"),
                &parents(1),
                &[r.clone()],
                Purpose::Consultation,
                &newcomer,
                at
            )
            .allowed
        );
        // the region as such (no organisation named) is covered
        let whole = Target {
            organization_id: None,
            region: Some(region),
        };
        assert!(
            consent_in_force(
                d("2018-05-10"),
                &parents(1),
                &[r],
                Purpose::Consultation,
                &whole,
                at
            )
            .allowed
        );
    }

    #[test]
    fn not_competent_from_twelve_lets_the_parents_decide() {
        // 13 years old, judged not competent: the parents' consent suffices
        let mut parents_only = grant(
            &[Giver::Guardian(A), Giver::Guardian(B)],
            Purpose::Consultation,
            "2025-01-01",
        );
        parents_only.child_not_competent = true;
        let c = check(
            "2012-06-01",
            &parents(2),
            &[parents_only.clone()],
            Purpose::Consultation,
            "2026-01-01",
        );
        assert!(c.allowed, "{c:?}");
        // the judgement is refused under 12, and accepted at 12
        let new = NewDecision {
            purpose: Purpose::Consultation,
            recipient: Recipient::Organization(ORG),
            region_organizations: Vec::new(),
            decision: Decision::Granted,
            givers: vec![Giver::Guardian(A), Giver::Guardian(B)],
            valid_from: d("2026-01-01"),
            valid_until: None,
            no_signs_of_disagreement: false,
            child_not_competent: true,
        };
        let at = noon(d("2026-01-01"));
        let e = check_new_decision(d("2015-01-01"), &parents(2), &[], &new, at, true).unwrap_err();
        assert_eq!(e[0].rule, "not-competent-only-from-12");
        check_new_decision(d("2013-12-31"), &parents(2), &[], &new, at, true).unwrap();
    }

    #[test]
    fn each_missing_giver_gets_the_reason_that_applies() {
        let at = "2026-01-01";
        // withdrawn
        let mut w = grant(&[Giver::Guardian(A)], Purpose::Consultation, "2025-01-01");
        w.status = ConsentStatus::Withdrawn;
        let c = check("2018-05-10", &parents(1), &[w], Purpose::Consultation, at);
        assert_eq!(c.missing, [Giver::Guardian(A)]);
        assert!(c.reasons.iter().any(|r| r.rule == "withdrawn"), "{c:?}");
        // ended
        let mut e = grant(&[Giver::Guardian(A)], Purpose::Consultation, "2025-01-01");
        e.valid_until = Some(d("2025-06-30"));
        let c = check("2018-05-10", &parents(1), &[e], Purpose::Consultation, at);
        assert!(
            c.reasons
                .iter()
                .any(|r| r.rule == "period-ended" && r.message.contains("2025-06-30")),
            "{c:?}"
        );
        // starts later: the parent gave it, they are not missing, yet it is not in force today
        let f = grant(&[Giver::Guardian(A)], Purpose::Consultation, "2026-02-01");
        let c = check("2018-05-10", &parents(1), &[f], Purpose::Consultation, at);
        assert!(!c.allowed && c.missing.is_empty(), "{c:?}");
        assert!(c
            .reasons
            .iter()
            .any(|r| r.rule == "starts-later" && r.message.contains("2026-02-01")));
        // a grant whose period already ended is not recorded as in force
        let new = NewDecision {
            purpose: Purpose::Consultation,
            recipient: Recipient::Organization(ORG),
            region_organizations: Vec::new(),
            decision: Decision::Granted,
            givers: vec![Giver::Guardian(A)],
            valid_from: d("2025-01-01"),
            valid_until: Some(d("2025-12-31")),
            no_signs_of_disagreement: false,
            child_not_competent: false,
        };
        let err = check_new_decision(d("2018-05-10"), &parents(1), &[], &new, noon(d(at)), true)
            .unwrap_err();
        assert_eq!(err[0].rule, "period-ended");
    }

    #[test]
    fn a_period_spanning_the_twelfth_birthday_is_warned_about() {
        let new = NewDecision {
            purpose: Purpose::Consultation,
            recipient: Recipient::Organization(ORG),
            region_organizations: Vec::new(),
            decision: Decision::Granted,
            givers: vec![Giver::Guardian(A)],
            valid_from: d("2026-01-01"),
            valid_until: Some(d("2026-12-31")),
            no_signs_of_disagreement: false,
            child_not_competent: false,
        };
        let today = d("2026-01-01");
        let w = period_warnings(d("2014-06-10"), &new, today);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].rule, "turns-12-during-period");
        assert!(w[0].message.contains("2026-06-10"));
        assert!(period_warnings(d("2016-06-10"), &new, today).is_empty());
        // the child consenting too: no warning at 12
        let with_child = NewDecision {
            givers: vec![Giver::Guardian(A), Giver::Child],
            ..new.clone()
        };
        assert!(period_warnings(d("2014-06-10"), &with_child, today).is_empty());
        // an open-ended period reaches the 16th birthday too, when it is near
        let open = NewDecision {
            valid_until: None,
            ..new
        };
        let rules: Vec<_> = period_warnings(d("2010-06-10"), &open, today)
            .into_iter()
            .map(|w| w.rule)
            .collect();
        assert_eq!(rules, ["turns-16-during-period"]);
        // a toddler's open-ended consent is not warned about a birthday years away
        assert!(period_warnings(d("2023-06-10"), &open, today).is_empty());
    }

    #[test]
    fn links_follow_the_age_rules() {
        let g = Giver::Guardian(A);
        assert_eq!(
            may_invite(11, Giver::Child, false).unwrap_err().rule,
            "child-under-12"
        );
        may_invite(12, Giver::Child, false).unwrap();
        may_invite(15, g, true).unwrap();
        assert_eq!(
            may_invite(16, g, true).unwrap_err().rule,
            "young-person-decides"
        );
        assert_eq!(
            may_invite(8, g, false).unwrap_err().rule,
            "guardian-without-authority"
        );
        assert_eq!(overview_scope(15, g).unwrap(), OverviewScope::Everything);
        assert_eq!(
            overview_scope(16, g).unwrap(),
            OverviewScope::OwnDecisionsOnly
        );
        assert_eq!(
            overview_scope(16, Giver::Child).unwrap(),
            OverviewScope::Everything
        );
        assert!(overview_scope(11, Giver::Child).is_err());
        assert_eq!(
            may_give_overview(17, g).unwrap_err().rule,
            "young-person-decides"
        );
        may_give_overview(12, Giver::Child).unwrap();
    }

    #[test]
    fn latest_decision_of_a_giver_stands() {
        let mut first = grant(&[Giver::Guardian(A)], Purpose::Consultation, "2025-01-01");
        first.recorded_at = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let mut refusal = first.clone();
        refusal.id = Uuid::now_v7();
        refusal.decision = Decision::Refused;
        refusal.recorded_at = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
        assert!(
            !check(
                "2018-05-10",
                &parents(1),
                &[first.clone(), refusal.clone()],
                Purpose::Consultation,
                "2026-01-01"
            )
            .allowed
        );
        let mut again = first.clone();
        again.id = Uuid::now_v7();
        again.recorded_at = Utc.with_ymd_and_hms(2025, 9, 1, 0, 0, 0).unwrap();
        assert!(
            check(
                "2018-05-10",
                &parents(1),
                &[first, refusal, again],
                Purpose::Consultation,
                "2026-01-01"
            )
            .allowed
        );
    }

    #[test]
    fn new_decisions_name_the_rule_that_fails() {
        let new = |givers: Vec<Giver>| NewDecision {
            purpose: Purpose::Consultation,
            recipient: Recipient::Organization(ORG),
            region_organizations: Vec::new(),
            decision: Decision::Granted,
            givers,
            valid_from: d("2026-01-01"),
            valid_until: None,
            no_signs_of_disagreement: false,
            child_not_competent: false,
        };
        let at = noon(d("2026-01-01"));
        // second parent missing
        let e = check_new_decision(
            d("2018-01-01"),
            &parents(2),
            &[],
            &new(vec![Giver::Guardian(A)]),
            at,
            true,
        )
        .unwrap_err();
        assert_eq!(e[0].rule, "all-guardians-must-consent");
        // a child of 13 must consent too
        let e = check_new_decision(
            d("2012-06-01"),
            &parents(2),
            &[],
            &new(vec![Giver::Guardian(A), Giver::Guardian(B)]),
            at,
            true,
        )
        .unwrap_err();
        assert_eq!(e[0].rule, "child-must-consent-too");
        assert!(e[0].message.contains("13"));
        // a child under 12 does not consent itself
        let e = check_new_decision(
            d("2018-01-01"),
            &parents(1),
            &[],
            &new(vec![Giver::Guardian(A), Giver::Child]),
            at,
            true,
        )
        .unwrap_err();
        assert_eq!(e[0].rule, "child-under-12");
        // a refusal by one parent is always recordable
        let refusal = NewDecision {
            decision: Decision::Refused,
            ..new(vec![Giver::Guardian(A)])
        };
        check_new_decision(d("2018-01-01"), &parents(2), &[], &refusal, at, true).unwrap();
        // a parent's own digital decision is recorded without the other's
        check_new_decision(
            d("2018-01-01"),
            &parents(2),
            &[],
            &new(vec![Giver::Guardian(A)]),
            at,
            false,
        )
        .unwrap();
        // an earlier decision of the other parent completes it
        let b = grant(&[Giver::Guardian(B)], Purpose::Consultation, "2025-01-01");
        check_new_decision(
            d("2018-01-01"),
            &parents(2),
            &[b],
            &new(vec![Giver::Guardian(A)]),
            at,
            true,
        )
        .unwrap();
        // one parent for both only to share information
        let mut info = new(vec![Giver::Guardian(A)]);
        info.no_signs_of_disagreement = true;
        let e = check_new_decision(d("2018-01-01"), &parents(2), &[], &info, at, true).unwrap_err();
        assert_eq!(e[0].rule, "one-parent-only-for-information");
        info.purpose = Purpose::InformationSharing;
        check_new_decision(d("2018-01-01"), &parents(2), &[], &info, at, true).unwrap();
    }

    #[test]
    fn supersede_replaces_the_same_givers_only() {
        let old_a = grant(&[Giver::Guardian(A)], Purpose::Consultation, "2025-01-01");
        let old_ab = grant(
            &[Giver::Guardian(A), Giver::Guardian(B)],
            Purpose::Consultation,
            "2025-01-01",
        );
        let new_a = NewDecision {
            purpose: Purpose::Consultation,
            recipient: Recipient::Organization(ORG),
            region_organizations: Vec::new(),
            decision: Decision::Refused,
            givers: vec![Giver::Guardian(A)],
            valid_from: d("2026-01-01"),
            valid_until: None,
            no_signs_of_disagreement: false,
            child_not_competent: false,
        };
        assert!(supersedes(&new_a, &old_a));
        assert!(!supersedes(&new_a, &old_ab));
        let new_ab = NewDecision {
            givers: vec![Giver::Guardian(A), Giver::Guardian(B)],
            ..new_a
        };
        assert!(supersedes(&new_ab, &old_a) && supersedes(&new_ab, &old_ab));
    }

    #[test]
    fn only_a_giver_withdraws() {
        assert!(may_withdraw(&[Giver::Guardian(A), Giver::Child], Giver::Child).is_ok());
        assert!(may_withdraw(&[Giver::Guardian(A)], Giver::Guardian(B)).is_err());
        assert!(may_withdraw(&[Giver::Guardian(A)], Giver::Child).is_err());
    }

    #[test]
    fn ages_are_judged_on_the_dutch_day() {
        // born 2014-06-10: turns 12 at midnight in Amsterdam = 22:00 UTC on 9 June (CEST)
        let born = d("2014-06-10");
        let parents_only = [grant(
            &[Giver::Guardian(A)],
            Purpose::Consultation,
            "2025-01-01",
        )];
        let before = Utc.with_ymd_and_hms(2026, 6, 9, 21, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 6, 9, 22, 0, 0).unwrap();
        let c = consent_in_force(
            born,
            &parents(1),
            &parents_only,
            Purpose::Consultation,
            &target(),
            before,
        );
        assert!(c.allowed && c.age == Some(11));
        let c = consent_in_force(
            born,
            &parents(1),
            &parents_only,
            Purpose::Consultation,
            &target(),
            after,
        );
        assert!(!c.allowed && c.age == Some(12));
        assert_eq!(c.missing, [Giver::Child]);
    }

    fn any_birth() -> impl Strategy<Value = NaiveDate> {
        // include many 29 February birthdays
        prop_oneof![
            (2000i32..2020, 1u32..=365).prop_map(|(y, day)| NaiveDate::from_yo_opt(
                y,
                day.min(365)
            )
            .unwrap()),
            proptest::sample::select(vec![2000, 2004, 2008, 2012, 2016])
                .prop_map(|y| NaiveDate::from_ymd_opt(y, 2, 29).unwrap()),
        ]
    }

    proptest! {
        /// Around the 12th and 16th birthday the requirement flips exactly on the birthday
        /// (1 March for a 29 February birth in a common year), for one or two guardians.
        #[test]
        fn requirement_flips_on_the_birthday(born in any_birth(), offset in -3i64..=3, which in 0usize..2, n in 1usize..=2, purpose in proptest::sample::select(Purpose::ALL.to_vec())) {
            let years = [12, 16][which];
            let birthday = crate::domain::calendar::birthday_in(born, born.year() + years);
            let on = birthday + Duration::days(offset);
            let age = age_on(born, on).unwrap();
            prop_assert_eq!(age >= years as u32, offset >= 0);
            let req = requirement(age, purpose, &parents(n), false, false).unwrap();
            let expect_child = age >= 12;
            prop_assert_eq!(req.child, expect_child);
            let expect_guardians = age < 16;
            prop_assert_eq!(req.guardians != GuardianRule::NotNeeded, expect_guardians);
            if expect_guardians {
                prop_assert_eq!(req.guardians, GuardianRule::All([A, B][..n].to_vec()));
            }
        }

        /// A parents-only grant is in force exactly until the Dutch day the child turns 12,
        /// whatever the hour of the instant.
        #[test]
        fn parents_only_grant_ends_at_twelve(born in any_birth(), offset_minutes in -3000i64..3000) {
            let records = [grant(&[Giver::Guardian(A)], Purpose::Consultation, "1999-01-01")];
            let birthday = crate::domain::calendar::birthday_in(born, born.year() + 12);
            let midnight_nl = birthday.and_hms_opt(0, 0, 0).unwrap().and_local_timezone(chrono_tz::Europe::Amsterdam).unwrap().with_timezone(&Utc);
            let at = midnight_nl + Duration::minutes(offset_minutes);
            let c = consent_in_force(born, &parents(1), &records, Purpose::Consultation, &target(), at);
            prop_assert_eq!(c.allowed, offset_minutes < 0);
        }

        /// Consent in force never ignores a refusal or a missing required giver.
        #[test]
        fn allowed_means_every_required_giver_granted(
            age_years in 0i64..18, grant_a in any::<bool>(), grant_b in any::<bool>(), grant_child in any::<bool>(),
            refuse_b in any::<bool>(), purpose in proptest::sample::select(Purpose::ALL.to_vec()),
        ) {
            let on = d("2026-06-15");
            let born = on - Duration::days(age_years * 365 + age_years / 4 + 30);
            let mut records = Vec::new();
            let mut givers = Vec::new();
            if grant_a { givers.push(Giver::Guardian(A)); }
            if grant_b && !refuse_b { givers.push(Giver::Guardian(B)); }
            if grant_child { givers.push(Giver::Child); }
            if !givers.is_empty() { records.push(grant(&givers, purpose, "2020-01-01")); }
            if refuse_b {
                let mut r = grant(&[Giver::Guardian(B)], purpose, "2020-01-01");
                r.decision = Decision::Refused;
                records.push(r);
            }
            let c = check(&born.to_string(), &parents(2), &records, purpose, &on.to_string());
            let age = age_on(born, on).unwrap();
            let parents_ok = grant_a && grant_b && !refuse_b;
            // from 16 the young person decides alone: a parent's refusal does not count
            let expected = if age < 12 { parents_ok } else if age < 16 { parents_ok && grant_child } else { grant_child };
            prop_assert_eq!(c.allowed, expected, "age {} {:?}", age, c);
        }
    }
}
