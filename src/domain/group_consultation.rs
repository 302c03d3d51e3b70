//! Group consultations (*consultatie op de groep*): a mentor asks a youth-care specialist about a
//! group or the location's practice before any child is named. Nothing in it is about one child,
//! so no child's personal data leaves the childcare and no parental consent is needed; the rules
//! here keep it that way. A question about one child is refused with a pointer to the per-child
//! request (which needs the parents' consent), and free text is screened for what identifies a
//! person: a BSN, a date, an e-mail address, a phone number, a first name of a child of the group.

use super::children::contains_bsn;
use super::consultation::{Competence, Urgency};
use super::types::ConcernDomain;
use super::validate::{FieldError, Validation};
use uuid::Uuid;

/// The longest question.
pub const QUESTION_MAX: usize = 2000;
/// At most this many themes: a request about everything is about nothing.
pub const THEMES_MAX: usize = 6;

crate::text_enum! {
    /// What the specialist advises when closing a group consultation.
    pub enum GroupFollowUp {
        /// Nothing further: the practitioners go on with what they worked on.
        None => "none",
        /// More coaching on the group.
        MoreCoaching => "more_coaching",
        /// Training of the team.
        TeamTraining => "team_training",
        /// A request about one child is advised: the mentor talks with the parents first (their
        /// consent is needed for that request).
        ChildRequestAdvised => "child_request_advised",
    }
}

/// A group consultation request as it arrives (API, page).
#[derive(Debug, Clone, Default)]
pub struct GroupRequestInput {
    pub group_id: Option<Uuid>,
    pub themes: Vec<String>,
    pub question: String,
    pub expertise: String,
    pub urgency: String,
    /// The mentor's own answer to "gaat over één kind": a question about one child does not
    /// belong here.
    pub about_one_child: bool,
}

/// A valid group consultation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRequest {
    pub group_id: Uuid,
    pub themes: Vec<ConcernDomain>,
    pub question: String,
    pub expertise: ConcernDomain,
    pub urgency: Urgency,
}

/// What identifies a person, found in free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PersonalDetail {
    Bsn,
    Date,
    Email,
    Phone,
    /// A first name of a child of the group.
    ChildName,
}

impl PersonalDetail {
    /// The message beside the field (never the value found).
    pub fn message(self) -> &'static str {
        match self {
            PersonalDetail::Bsn => "holds what looks like a BSN: a group consultation names no child",
            PersonalDetail::Date => "holds a date (a date of birth identifies a child): leave it out",
            PersonalDetail::Email => "holds an e-mail address: a group consultation holds no personal details",
            PersonalDetail::Phone => "holds a phone number: a group consultation holds no personal details",
            PersonalDetail::ChildName => "names a child of the group: a question about one child goes in a request for that child",
        }
    }
}

/// The personal details `text` holds, each kind once, in order. `names` are the first names of
/// the group's children (matched as whole words, ignoring case; names shorter than three letters
/// are not matched, they are too often ordinary words).
pub fn personal_details(text: &str, names: &[String]) -> Vec<PersonalDetail> {
    let mut found = Vec::new();
    if contains_bsn(text) {
        found.push(PersonalDetail::Bsn);
    }
    if contains_date(text) {
        found.push(PersonalDetail::Date);
    }
    if contains_email(text) {
        found.push(PersonalDetail::Email);
    }
    if contains_phone(text) {
        found.push(PersonalDetail::Phone);
    }
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '\'')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    if names.iter().any(|n| {
        let n = n.trim().to_lowercase();
        n.chars().count() >= 3 && words.contains(&n)
    }) {
        found.push(PersonalDetail::ChildName);
    }
    found
}

/// A day-month-year or year-month-day date: `3-4-2022`, `03/04/22`, `2022-04-03`, `3.4.2022`.
fn contains_date(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // up to three groups of digits joined by one separator kind
        let mut groups: Vec<usize> = Vec::new();
        let mut sep: Option<char> = None;
        let mut j = i;
        loop {
            let start = j;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            groups.push(j - start);
            if groups.len() == 3 || j >= chars.len() {
                break;
            }
            let c = chars[j];
            if !matches!(c, '-' | '/' | '.') || sep.is_some_and(|s| s != c) {
                break;
            }
            if j + 1 >= chars.len() || !chars[j + 1].is_ascii_digit() {
                break;
            }
            sep = Some(c);
            j += 1;
        }
        let followed_by_digit = j < chars.len() && chars[j].is_ascii_digit();
        if groups.len() == 3 && !followed_by_digit {
            let dmy = (1..=2).contains(&groups[0])
                && (1..=2).contains(&groups[1])
                && (groups[2] == 2 || groups[2] == 4);
            let ymd =
                groups[0] == 4 && (1..=2).contains(&groups[1]) && (1..=2).contains(&groups[2]);
            if dmy || ymd {
                return true;
            }
        }
        i = j.max(i + 1);
    }
    false
}

fn contains_email(text: &str) -> bool {
    text.split_whitespace().any(|w| {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        match w.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        }
    })
}

/// A Dutch phone number: ten digits starting with 0 (`06-12345678`, `020 123 4567`), or
/// `+31`/`0031` followed by nine digits; spaces and dashes between the digits.
fn contains_phone(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = (chars[i] == '+' || chars[i].is_ascii_digit())
            && (i == 0 || !chars[i - 1].is_ascii_digit());
        if !starts {
            i += 1;
            continue;
        }
        let mut digits = String::new();
        let mut j = i;
        if chars[j] == '+' {
            digits.push('+');
            j += 1;
        }
        while j < chars.len() {
            let c = chars[j];
            if c.is_ascii_digit() {
                digits.push(c);
            } else if matches!(c, ' ' | '-')
                && j + 1 < chars.len()
                && chars[j + 1].is_ascii_digit()
                && !digits.is_empty()
            {
                // a separator between digits
            } else {
                break;
            }
            j += 1;
        }
        let national = digits.len() == 10 && digits.starts_with('0') && !digits.starts_with("00");
        let international = (digits.starts_with("+31") && digits.len() == 12)
            || (digits.starts_with("0031") && digits.len() == 13);
        if national || international {
            return true;
        }
        i = j.max(i + 1);
    }
    false
}

/// Checks a group consultation request; `names` are the first names of the group's children
/// (see [`personal_details`]). Every problem is reported at once, none echoes the value.
pub fn validate_group_request(
    input: &GroupRequestInput,
    names: &[String],
) -> Result<GroupRequest, Vec<FieldError>> {
    let mut v = Validation::new();
    if input.about_one_child {
        v.add(
            "about_one_child",
            "a question about one child goes in a request for that child, which needs the parents' consent: use the per-child request",
        );
    }
    if input.group_id.is_none() {
        v.add("group_id", "is required");
    }
    let mut themes = Vec::new();
    for (i, t) in input.themes.iter().enumerate() {
        match t.parse::<ConcernDomain>() {
            Ok(d) if themes.contains(&d) => v.add(format!("themes[{i}]"), "is given twice"),
            Ok(d) => themes.push(d),
            Err(_) => v.add(format!("themes[{i}]"), "is not a developmental domain"),
        }
    }
    if input.themes.is_empty() {
        v.add("themes", "name at least one theme");
    } else if input.themes.len() > THEMES_MAX {
        v.add("themes", format!("at most {THEMES_MAX} themes"));
    }
    let expertise = input.expertise.parse::<ConcernDomain>();
    if expertise.is_err() {
        v.add("expertise", "is not a developmental domain");
    }
    let urgency = input.urgency.parse::<Urgency>();
    if urgency.is_err() {
        v.add("urgency", "must be normal or high");
    }
    v.text("question", &input.question, QUESTION_MAX);
    for d in personal_details(&input.question, names) {
        v.add("question", d.message());
    }
    v.finish()?;
    match (input.group_id, expertise, urgency) {
        (Some(group_id), Ok(expertise), Ok(urgency)) => Ok(GroupRequest {
            group_id,
            themes,
            question: input.question.trim().to_string(),
            expertise,
            urgency,
        }),
        // (each was checked above)
        _ => Err(vec![FieldError::new("request", "is not valid")]),
    }
}

/// How a specialist closes a group consultation.
#[derive(Debug, Clone, Default)]
pub struct GroupOutcomeInput {
    /// The practitioners' core competences worked on.
    pub competences: Vec<String>,
    pub follow_up: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOutcome {
    pub competences: Vec<Competence>,
    pub follow_up: GroupFollowUp,
    pub summary: String,
}

/// The longest closing summary.
pub const SUMMARY_MAX: usize = 4000;

pub fn validate_group_outcome(
    input: &GroupOutcomeInput,
    names: &[String],
) -> Result<GroupOutcome, Vec<FieldError>> {
    let mut v = Validation::new();
    let mut competences = Vec::new();
    for (i, c) in input.competences.iter().enumerate() {
        match c.parse::<Competence>() {
            Ok(c) if competences.contains(&c) => {
                v.add(format!("competences[{i}]"), "is given twice")
            }
            Ok(c) => competences.push(c),
            Err(_) => v.add(format!("competences[{i}]"), "is not a core competence"),
        }
    }
    if input.competences.is_empty() {
        v.add("competences", "name at least one competence worked on");
    }
    let follow_up = input.follow_up.parse::<GroupFollowUp>();
    if follow_up.is_err() {
        v.add("follow_up", "is not a follow-up this gateway knows");
    }
    v.text("summary", &input.summary, SUMMARY_MAX);
    for d in personal_details(&input.summary, names) {
        v.add("summary", d.message());
    }
    v.finish()?;
    let follow_up = follow_up.map_err(|_| vec![FieldError::new("follow_up", "is not valid")])?;
    Ok(GroupOutcome {
        competences,
        follow_up,
        summary: input.summary.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input() -> GroupRequestInput {
        GroupRequestInput {
            group_id: Some(Uuid::from_u128(7)),
            themes: vec!["behaviour".into(), "social_emotional".into()],
            question: "Hoe gaan we om met veel drukte bij het overgaan van spelen naar eten?"
                .into(),
            expertise: "behaviour".into(),
            urgency: "normal".into(),
            about_one_child: false,
        }
    }

    fn fields(r: Result<GroupRequest, Vec<FieldError>>) -> Vec<(String, String)> {
        r.expect_err("refused")
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn a_question_about_the_group_is_taken() {
        let r = validate_group_request(&input(), &["Sanne".into()]).unwrap();
        assert_eq!(
            r.themes,
            [ConcernDomain::Behaviour, ConcernDomain::SocialEmotional]
        );
        assert_eq!(r.expertise, ConcernDomain::Behaviour);
    }

    #[test]
    fn a_question_about_one_child_is_sent_to_the_per_child_request() {
        let mut i = input();
        i.about_one_child = true;
        let f = fields(validate_group_request(&i, &[]));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, "about_one_child");
        assert!(f[0].1.contains("per-child request"));
    }

    #[test]
    fn personal_details_in_the_question_are_refused_without_echoing_them() {
        let names = vec!["Sanne".to_string(), "Bo".to_string()];
        for (text, detail) in [
            ("Sanne bijt andere kinderen", PersonalDetail::ChildName),
            ("Geboren 03-04-2022, druk", PersonalDetail::Date),
            ("sinds 2024-11-02 onrustig", PersonalDetail::Date),
            ("mail ouder@example.nl", PersonalDetail::Email),
            ("bel 06-12345678", PersonalDetail::Phone),
            ("bel +31 6 1234 5678", PersonalDetail::Phone),
            ("bsn 111222333", PersonalDetail::Bsn),
        ] {
            assert_eq!(personal_details(text, &names), [detail], "{text}");
            let mut i = input();
            i.question = text.into();
            let f = fields(validate_group_request(&i, &names));
            assert!(
                f.iter()
                    .all(|(field, m)| field == "question" && !m.contains(text)),
                "{f:?}"
            );
        }
        // ordinary words, short names, times, counts and years are not personal details
        for text in [
            "Bo en boos zijn woorden; 12 kinderen, 3 leidsters, om 10.30 uur, sinds 2024",
            "Ze sanneren niet; groep 1-2 en 3/4",
            "In 2025 twee keer per week 45 minuten",
        ] {
            assert!(
                personal_details(text, &names).is_empty(),
                "{text}: {:?}",
                personal_details(text, &names)
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let i = GroupRequestInput {
            group_id: None,
            themes: vec!["behaviour".into(), "behaviour".into(), "astrology".into()],
            question: " ".into(),
            expertise: "x".into(),
            urgency: "asap".into(),
            about_one_child: false,
        };
        let f: Vec<String> = fields(validate_group_request(&i, &[]))
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(
            f,
            [
                "group_id",
                "themes[1]",
                "themes[2]",
                "expertise",
                "urgency",
                "question"
            ]
        );
    }

    #[test]
    fn a_group_outcome_names_competences_and_a_follow_up() {
        let ok = validate_group_outcome(
            &GroupOutcomeInput {
                competences: vec!["striking_behaviour".into(), "asking_help".into()],
                follow_up: "child_request_advised".into(),
                summary: "Overgangsmomenten voorbereid; met één ouder het gesprek aangaan.".into(),
            },
            &[],
        )
        .unwrap();
        assert_eq!(ok.follow_up, GroupFollowUp::ChildRequestAdvised);
        let bad = validate_group_outcome(
            &GroupOutcomeInput {
                competences: vec![],
                follow_up: "later".into(),
                summary: "Sanne".into(),
            },
            &["Sanne".into()],
        )
        .unwrap_err();
        let f: Vec<&str> = bad.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(f, ["competences", "follow_up", "summary"]);
    }

    proptest! {
        /// Whatever the text, a name of the group's children in it is found, and the message
        /// never holds it.
        #[test]
        fn a_childs_name_is_found_wherever_it_stands(before in "[a-z ,.]{0,30}", after in "[a-z ,.]{0,30}", name in "[A-Z][a-z]{2,8}") {
            let text = format!("{before} {name} {after}");
            let found = personal_details(&text, std::slice::from_ref(&name));
            prop_assert!(found.contains(&PersonalDetail::ChildName));
            for d in found {
                prop_assert!(!d.message().contains(&name));
            }
        }

        /// Text of letters alone holds no number-shaped detail.
        #[test]
        fn words_alone_hold_no_number(text in "[a-zA-Z ,.!?]{0,80}") {
            let found = personal_details(&text, &[]);
            prop_assert!(found.is_empty(), "{:?}", found);
        }
    }
}
