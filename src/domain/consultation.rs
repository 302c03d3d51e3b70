//! The consultation request's life, in the FHIR Task status vocabulary. Every transition is
//! decided here; an event that does not fit the current status is refused with that status.

use serde::Serialize;

crate::text_enum! {
    /// Where a consultation request stands (FHIR R4 TaskStatus values).
    pub enum ConsultationStatus {
        /// Submitted; not yet routed (only inside the submission).
        Requested => "requested",
        /// Offered to a specialist, who must answer before the deadline.
        Offered => "offered",
        /// A specialist took it.
        Accepted => "accepted",
        /// The specialist's work on the group has started (first visit).
        InProgress => "in_progress",
        /// Paused: the consent it rests on was withdrawn.
        OnHold => "on_hold",
        /// No specialist could take it; in the region coordinator's queue.
        Unassigned => "unassigned",
        /// Turned down by the region's coordinator.
        Rejected => "rejected",
        /// Withdrawn by the mentor before acceptance.
        Cancelled => "cancelled",
        /// Closed with an outcome.
        Completed => "completed",
    }
}

crate::text_enum! {
    pub enum Urgency {
        Normal => "normal",
        High => "high",
    }
}

crate::text_enum! {
    /// What a coaching visit was.
    pub enum VisitKind {
        /// Observation of the child on the group.
        Observation => "observation",
        /// Coaching of the practitioners (*pedagogisch medewerkers*).
        StaffCoaching => "staff_coaching",
        ParentMeeting => "parent_meeting",
        TeamMeeting => "team_meeting",
        Remote => "remote",
    }
}

crate::text_enum! {
    pub enum VisitStatus {
        Planned => "planned",
        Held => "held",
        Cancelled => "cancelled",
    }
}

crate::text_enum! {
    /// Who took part in a visit, by role (never names of other children).
    pub enum Participant {
        Mentor => "mentor",
        /// Other practitioners of the group.
        Practitioner => "practitioner",
        Parent => "parent",
        Child => "child",
        Team => "team",
        LocationManager => "location_manager",
        OtherProfessional => "other_professional",
    }
}

crate::text_enum! {
    /// The four core competences Alert4you coaching develops in practitioners.
    pub enum Competence {
        /// Knowledge of child development.
        DevelopmentKnowledge => "development_knowledge",
        /// Dealing with striking behaviour.
        StrikingBehaviour => "striking_behaviour",
        /// Asking for help.
        AskingHelp => "asking_help",
        /// Dealing with parents of children with striking behaviour.
        Parents => "parents",
    }
}

crate::text_enum! {
    /// How the trajectory ended for the child (no validated set exists for Alert4you; ours).
    pub enum Outcome {
        /// Helped within childcare: the Alert4you aim.
        HandledWithinChildcare => "handled_within_childcare",
        ReferredYouthCare => "referred_youth_care",
        /// Referred to youth health care (*JGZ*).
        ReferredYouthHealthCare => "referred_youth_health_care",
        VeiligThuis => "veilig_thuis",
        ParentsWithdrew => "parents_withdrew",
        NoConcern => "no_concern",
        Other => "other",
    }
}

impl Outcome {
    /// Outcomes that send the child on to other care.
    pub fn is_referral(self) -> bool {
        matches!(
            self,
            Outcome::ReferredYouthCare | Outcome::ReferredYouthHealthCare
        )
    }
}

/// Longest visit recorded (minutes).
pub const MAX_VISIT_MINUTES: i64 = 600;

/// Checks a visit's facts: a held visit lies in the past, a planned one at most a year ahead,
/// none more than a year before the request was opened (`opened_on`), the duration is
/// plausible, someone took part.
pub fn validate_visit(
    v: &mut super::Validation,
    date: chrono::NaiveDate,
    today: chrono::NaiveDate,
    opened_on: chrono::NaiveDate,
    status: VisitStatus,
    duration_minutes: i64,
    participants: usize,
) {
    v.check(
        date >= opened_on - chrono::Duration::days(366),
        "date",
        "at most a year before the request was made",
    );
    v.check(
        (1..=MAX_VISIT_MINUTES).contains(&duration_minutes),
        "duration_minutes",
        "must be 1 to 600",
    );
    v.check(
        participants > 0,
        "participants",
        "name at least one participant (by role)",
    );
    match status {
        VisitStatus::Held => v.check(
            date <= today,
            "date",
            "a held visit cannot be in the future",
        ),
        VisitStatus::Planned => v.check(
            date <= today + chrono::Duration::days(366),
            "date",
            "at most a year ahead",
        ),
        VisitStatus::Cancelled => {}
    }
}

impl ConsultationStatus {
    /// Statuses in which a specialist holds a slot of their capacity.
    pub fn holds_slot(self) -> bool {
        matches!(
            self,
            Self::Offered | Self::Accepted | Self::InProgress | Self::OnHold
        )
    }

    /// Still open (not rejected, cancelled or completed).
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Rejected | Self::Cancelled | Self::Completed)
    }
}

/// Something that happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Routing found a specialist (at submission, or after a decline or a missed deadline).
    Offer,
    /// Routing found nobody.
    NoCandidate,
    /// The specialist it is offered to takes it.
    Accept,
    /// The specialist it is offered to declines, or lets the deadline pass.
    Decline,
    /// The region's coordinator assigns a specialist by hand.
    Assign,
    /// The coordinator turns it down.
    Reject,
    /// The mentor withdraws it before acceptance.
    Cancel,
    /// The first visit is logged.
    Start,
    /// The consent it rests on is withdrawn.
    Hold,
    /// Consent is in force again.
    Resume,
    /// The assigned specialist closes it with an outcome.
    Close,
    /// The specialist who took it left (deactivated): it goes to the region's queue.
    Unassign,
    /// The child left the childcare organisation: whatever is still open ends.
    ChildLeft,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Offer => "offer",
            Event::NoCandidate => "no_candidate",
            Event::Accept => "accept",
            Event::Decline => "decline",
            Event::Assign => "assign",
            Event::Reject => "reject",
            Event::Cancel => "cancel",
            Event::Start => "start",
            Event::Hold => "hold",
            Event::Resume => "resume",
            Event::Close => "close",
            Event::Unassign => "unassign",
            Event::ChildLeft => "child_left",
        }
    }
}

/// May a request in `from` be closed with `outcome`? A request on hold (consent withdrawn) is
/// closed only as "parents withdrew": anything else would rest on work the withdrawal stopped.
pub fn close_outcome_allowed(from: ConsultationStatus, outcome: Outcome) -> bool {
    from != ConsultationStatus::OnHold || outcome == Outcome::ParentsWithdrew
}

/// The specialist whose capacity a request holds (an offer, an accepted or running request, or
/// one on hold from those), if any.
pub fn slot_holder(
    status: ConsultationStatus,
    held_from: Option<ConsultationStatus>,
    offered_to: Option<uuid::Uuid>,
    assigned_to: Option<uuid::Uuid>,
) -> Option<uuid::Uuid> {
    use ConsultationStatus as S;
    let effective = if status == S::OnHold {
        held_from?
    } else {
        status
    };
    match effective {
        S::Offered => offered_to,
        S::Accepted | S::InProgress => assigned_to.or(offered_to),
        _ => None,
    }
}

/// The gateway's wording for a request held because its consent was withdrawn or refused.
pub const HELD_FOR_CONSENT: &str = "consent withdrawn";

/// Who hears of a request's new status: the child's organisation and the organisations of the
/// specialists involved (now, or until this change), each once. Webhooks carry ids only.
pub fn event_recipients(
    child_organization: uuid::Uuid,
    specialist_organizations: impl IntoIterator<Item = uuid::Uuid>,
) -> Vec<uuid::Uuid> {
    let mut orgs = vec![child_organization];
    for org in specialist_organizations {
        if !orgs.contains(&org) {
            orgs.push(org);
        }
    }
    orgs
}

/// Where a request goes when routing finds a specialist or nobody, decided for its current
/// status (`requested` at submission and after a decline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingOutcomes {
    pub offered: ConsultationStatus,
    pub unassigned: ConsultationStatus,
}

pub fn routing_outcomes(from: ConsultationStatus) -> Result<RoutingOutcomes, IllegalTransition> {
    Ok(RoutingOutcomes {
        offered: next(from, Event::Offer, None)?,
        unassigned: next(from, Event::NoCandidate, None)?,
    })
}

/// An event that does not fit the current status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event} a consultation that is {from}", event = .event.as_str())]
pub struct IllegalTransition {
    pub from: ConsultationStatus,
    pub event: Event,
}

/// The status after `event` in `from`. `held_from` is the status a request on hold returns to.
/// A decline moves the request on (the caller routes it again: `Offer` or `NoCandidate`).
pub fn next(
    from: ConsultationStatus,
    event: Event,
    held_from: Option<ConsultationStatus>,
) -> Result<ConsultationStatus, IllegalTransition> {
    use ConsultationStatus as S;
    use Event as E;
    let to = match (from, event) {
        (S::Requested | S::Offered, E::Offer) => S::Offered,
        (S::Requested | S::Offered, E::NoCandidate) => S::Unassigned,
        (S::Offered, E::Accept) => S::Accepted,
        (S::Offered, E::Decline) => S::Requested,
        (S::Unassigned, E::Assign) => S::Accepted,
        (S::Unassigned, E::Reject) => S::Rejected,
        (S::Requested | S::Offered | S::Unassigned, E::Cancel) => S::Cancelled,
        // a request held because consent was withdrawn can always be ended by the childcare
        // side: the parents may never consent again, and the specialist's slot must come free
        (S::OnHold, E::Cancel) => S::Cancelled,
        (S::Accepted, E::Start) => S::InProgress,
        (S::InProgress, E::Start) => S::InProgress,
        (S::Requested | S::Offered | S::Accepted | S::InProgress | S::Unassigned, E::Hold) => {
            S::OnHold
        }
        (S::OnHold, E::Resume) => match held_from {
            Some(h) if h != S::OnHold && h.is_open() => h,
            _ => return Err(IllegalTransition { from, event }),
        },
        (S::Accepted | S::InProgress, E::Close) => S::Completed,
        (S::Accepted | S::InProgress, E::Unassign) => S::Unassigned,
        // coaching on the group about a child who is no longer there has no object: every open
        // request ends (and frees the specialist's slot); closed ones stay as they were
        (from, E::ChildLeft) if from.is_open() => S::Cancelled,
        // held, it stays held; it returns to the queue when consent is in force again
        (S::OnHold, E::Unassign)
            if held_from.is_some_and(|h| matches!(h, S::Accepted | S::InProgress)) =>
        {
            S::OnHold
        }
        // the specialist closes a held trajectory they had taken (only as "parents withdrew":
        // see `close_outcome_allowed`), so the outcome is counted and the retention period starts
        (S::OnHold, E::Close)
            if held_from.is_some_and(|h| matches!(h, S::Accepted | S::InProgress)) =>
        {
            S::Completed
        }
        _ => return Err(IllegalTransition { from, event }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ConsultationStatus as S;

    const EVENTS: [Event; 13] = [
        Event::Offer,
        Event::NoCandidate,
        Event::Accept,
        Event::Decline,
        Event::Assign,
        Event::Reject,
        Event::Cancel,
        Event::Start,
        Event::Hold,
        Event::Resume,
        Event::Close,
        Event::Unassign,
        Event::ChildLeft,
    ];

    #[test]
    fn visits_are_checked() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let fields = |date: &str, status, minutes, participants| {
            let mut v = crate::domain::Validation::new();
            validate_visit(
                &mut v,
                date.parse().unwrap(),
                today,
                "2026-01-05".parse().unwrap(),
                status,
                minutes,
                participants,
            );
            v.finish()
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert!(fields("2026-11-20", VisitStatus::Held, 90, 2).is_empty());
        assert_eq!(fields("2026-11-30", VisitStatus::Held, 90, 2), ["date"]);
        assert!(fields("2026-11-30", VisitStatus::Planned, 90, 2).is_empty());
        assert_eq!(fields("2025-01-03", VisitStatus::Held, 90, 2), ["date"]);
        assert_eq!(
            fields("2028-01-01", VisitStatus::Planned, 0, 0),
            ["duration_minutes", "participants", "date"]
        );
        assert!(
            Outcome::ReferredYouthCare.is_referral()
                && !Outcome::HandledWithinChildcare.is_referral()
        );
    }

    #[test]
    fn the_happy_path() {
        let s = next(S::Requested, Event::Offer, None).unwrap();
        let s = next(s, Event::Accept, None).unwrap();
        let s = next(s, Event::Start, None).unwrap();
        assert_eq!(next(s, Event::Close, None).unwrap(), S::Completed);
    }

    #[test]
    fn declines_route_again_and_the_queue_is_the_coordinators() {
        assert_eq!(
            next(S::Offered, Event::Decline, None).unwrap(),
            S::Requested
        );
        assert_eq!(
            next(S::Requested, Event::NoCandidate, None).unwrap(),
            S::Unassigned
        );
        assert_eq!(
            next(S::Unassigned, Event::Assign, None).unwrap(),
            S::Accepted
        );
        assert_eq!(
            next(S::Unassigned, Event::Reject, None).unwrap(),
            S::Rejected
        );
    }

    #[test]
    fn hold_and_resume_return_where_it_was() {
        let held = next(S::InProgress, Event::Hold, None).unwrap();
        assert_eq!(held, S::OnHold);
        assert_eq!(
            next(held, Event::Resume, Some(S::InProgress)).unwrap(),
            S::InProgress
        );
        // a held request can always be ended: cancelled by the mentor, or closed by the
        // specialist who had it (as "parents withdrew")
        assert_eq!(
            next(S::OnHold, Event::Cancel, Some(S::Offered)).unwrap(),
            S::Cancelled
        );
        assert_eq!(
            next(S::OnHold, Event::Cancel, Some(S::Accepted)).unwrap(),
            S::Cancelled
        );
        assert_eq!(
            next(S::OnHold, Event::Close, Some(S::InProgress)).unwrap(),
            S::Completed
        );
        assert!(next(S::OnHold, Event::Close, Some(S::Offered)).is_err());
        assert!(close_outcome_allowed(S::OnHold, Outcome::ParentsWithdrew));
        assert!(!close_outcome_allowed(
            S::OnHold,
            Outcome::HandledWithinChildcare
        ));
        assert!(close_outcome_allowed(
            S::InProgress,
            Outcome::HandledWithinChildcare
        ));
        let (a, b) = (
            Some(uuid::Uuid::from_u128(1)),
            Some(uuid::Uuid::from_u128(2)),
        );
        assert_eq!(slot_holder(S::OnHold, Some(S::Accepted), a, b), b);
        assert_eq!(
            slot_holder(S::OnHold, Some(S::Unassigned), None, None),
            None
        );
        assert_eq!(slot_holder(S::Offered, None, a, None), a);
        assert_eq!(slot_holder(S::Completed, None, a, b), None);
    }

    #[test]
    fn illegal_transitions_name_the_status() {
        let e = next(S::Completed, Event::Accept, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot accept a consultation that is completed"
        );
        assert!(next(S::Accepted, Event::Cancel, None).is_err());
        assert!(next(S::Offered, Event::Close, None).is_err());
    }

    #[test]
    fn a_child_who_leaves_ends_every_open_request() {
        for from in S::ALL {
            let after = next(*from, Event::ChildLeft, None);
            if from.is_open() {
                assert_eq!(after, Ok(S::Cancelled), "{from}");
            } else {
                assert!(after.is_err(), "{from}");
            }
        }
    }

    proptest! {
        /// Closed requests never change; slots are held exactly while a specialist has it.
        #[test]
        fn terminal_states_are_final(from in proptest::sample::select(vec![S::Rejected, S::Cancelled, S::Completed]),
                                      event in proptest::sample::select(EVENTS.to_vec())) {
            prop_assert!(next(from, event, None).is_err());
            prop_assert!(next(from, event, Some(S::Offered)).is_err());
        }

        #[test]
        fn every_reachable_status_is_known(from in proptest::sample::select(S::ALL.to_vec()),
                                            event in proptest::sample::select(EVENTS.to_vec()),
                                            held in proptest::sample::select(S::ALL.to_vec())) {
            if let Ok(to) = next(from, event, Some(held)) {
                prop_assert!(S::ALL.contains(&to));
                if from == S::OnHold && event == Event::Resume {
                    prop_assert_eq!(to, held);
                }
            }
        }
    }
}
