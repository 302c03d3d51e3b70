//! FHIR resources as partner systems send them, as hand-written serde types with
//! `deny_unknown_fields` (an element we do not know is refused, never dropped), and their
//! translation to the workflow's inputs. What the translation cannot read is a 422 that names
//! the element; what the workflow refuses (who must consent, …) it explains itself.

use super::resources::{
    ACT_CODE_SYSTEM, COMPETENCE_EXTENSION, COMPETENCE_SYSTEM, PARTICIPANT_SYSTEM,
    PARTICIPATION_TYPE_SYSTEM, UCUM, VISIT_KIND_SYSTEM,
};
use super::resources::{
    CONSENT_METHOD_EXTENSION, INFORMATION_VERSION_EXTENSION, NOTED_BY_EXTENSION,
    NOT_COMPETENT_EXTENSION, NO_DISAGREEMENT_EXTENSION, PURPOSE_SYSTEM, REGION_SYSTEM,
};
use crate::domain::consent::{ConsentMethod, Decision, Purpose};
use crate::service::consent::{GiverDto, NewConsent, RecipientDto};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReferenceIn {
    pub reference: Option<String>,
    pub identifier: Option<IdentifierIn>,
    pub display: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentifierIn {
    pub system: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtensionIn {
    /// The parts of a complex extension.
    #[serde(default)]
    pub extension: Vec<ExtensionIn>,
    pub url: String,
    pub value_code: Option<String>,
    pub value_string: Option<String>,
    pub value_boolean: Option<bool>,
    pub value_coding: Option<CodingIn>,
    pub value_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CodingIn {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CodeableConceptIn {
    #[serde(default)]
    pub coding: Vec<CodingIn>,
    pub text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PeriodIn {
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProvisionActorIn {
    pub role: CodeableConceptIn,
    pub reference: ReferenceIn,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProvisionIn {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub period: Option<PeriodIn>,
    #[serde(default)]
    pub actor: Vec<ProvisionActorIn>,
    #[serde(default)]
    pub purpose: Vec<CodingIn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttachmentIn {
    pub title: Option<String>,
}

/// A Consent to record: a decision of the parents (or the child) as the childcare
/// organisation took it in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsentIn {
    pub resource_type: String,
    /// Ignored on create (the server gives the id), as FHIR says.
    pub id: Option<String>,
    pub meta: Option<serde_json::Value>,
    pub text: Option<serde_json::Value>,
    #[serde(default)]
    pub extension: Vec<ExtensionIn>,
    pub status: Option<String>,
    pub scope: Option<CodeableConceptIn>,
    #[serde(default)]
    pub category: Vec<CodeableConceptIn>,
    pub patient: Option<ReferenceIn>,
    pub date_time: Option<String>,
    #[serde(default)]
    pub performer: Vec<ReferenceIn>,
    #[serde(default)]
    pub organization: Vec<ReferenceIn>,
    pub source_attachment: Option<AttachmentIn>,
    #[serde(default)]
    pub policy_rule: Option<CodeableConceptIn>,
    pub provision: Option<ProvisionIn>,
}

/// A translation failure: the element and what is wrong with it.
pub type Refusal = (String, String);

fn refuse(element: &str, message: &str) -> Refusal {
    (element.to_string(), message.to_string())
}

fn id_of(reference: &Option<String>, kind: &str) -> Option<Uuid> {
    reference
        .as_deref()?
        .strip_prefix(kind)?
        .strip_prefix('/')?
        .parse()
        .ok()
}

impl ConsentIn {
    /// The child it is about and the decision to record.
    pub fn to_decision(&self) -> Result<(Uuid, NewConsent), Refusal> {
        if self.resource_type != "Consent" {
            return Err(refuse("Consent.resourceType", "this is not a Consent"));
        }
        let decision = match self.status.as_deref() {
            Some("active") => Decision::Granted,
            Some("rejected") => Decision::Refused,
            Some(_) => {
                return Err(refuse(
                    "Consent.status",
                    "a new record is active (consent given) or rejected (refused); a withdrawal is its own operation",
                ))
            }
            None => return Err(refuse("Consent.status", "a Consent has a status")),
        };
        let scope_ok = self.scope.as_ref().is_some_and(|s| {
            s.coding
                .iter()
                .any(|c| c.code.as_deref() == Some("patient-privacy"))
        });
        if !scope_ok {
            return Err(refuse(
                "Consent.scope",
                "the scope is patient-privacy (http://terminology.hl7.org/CodeSystem/consentscope)",
            ));
        }
        let child = self
            .patient
            .as_ref()
            .and_then(|p| id_of(&p.reference, "Patient"))
            .ok_or_else(|| refuse("Consent.patient", "name the child as Patient/{id}"))?;
        let provision = self.provision.as_ref().ok_or_else(|| {
            refuse(
                "Consent.provision",
                "a provision says what is permitted or denied",
            )
        })?;
        let expected_kind = match decision {
            Decision::Granted => "permit",
            Decision::Refused => "deny",
        };
        if provision.kind.as_deref() != Some(expected_kind) {
            return Err(refuse(
                "Consent.provision.type",
                &format!(
                    "status {} goes with provision.type {expected_kind}",
                    self.status.as_deref().unwrap_or("")
                ),
            ));
        }
        let mut given_by = Vec::new();
        for (i, p) in self.performer.iter().enumerate() {
            if let Some(g) = id_of(&p.reference, "RelatedPerson") {
                given_by.push(GiverDto {
                    guardian_id: Some(g),
                    child: None,
                });
            } else if id_of(&p.reference, "Patient") == Some(child) {
                given_by.push(GiverDto {
                    guardian_id: None,
                    child: Some(true),
                });
            } else {
                return Err(refuse(
                    &format!("Consent.performer[{i}]"),
                    "a performer is a parent or guardian (RelatedPerson/{id}) or the child itself (the Patient)",
                ));
            }
        }
        if given_by.is_empty() {
            return Err(refuse("Consent.performer", "name who gave or refused it"));
        }
        let purpose = match provision.purpose.as_slice() {
            [c] if c.system.as_deref() == Some(PURPOSE_SYSTEM) => c
                .code
                .as_deref()
                .and_then(|code| code.parse::<Purpose>().ok())
                .ok_or_else(|| {
                    refuse(
                        "Consent.provision.purpose[0]",
                        "consultation, information_sharing or referral",
                    )
                })?,
            _ => {
                return Err(refuse(
                    "Consent.provision.purpose",
                    &format!("one purpose of {PURPOSE_SYSTEM}"),
                ))
            }
        };
        let recipient = match provision.actor.as_slice() {
            [a] => {
                let region = a
                    .reference
                    .identifier
                    .as_ref()
                    .filter(|i| i.system.as_deref() == Some(REGION_SYSTEM))
                    .and_then(|i| i.value.as_deref());
                match (id_of(&a.reference.reference, "Organization"), region) {
                    (Some(org), None) => RecipientDto {
                        organization_id: Some(org),
                        region_code: None,
                    },
                    (None, Some(code)) => RecipientDto {
                        organization_id: None,
                        region_code: Some(code.parse().map_err(|_| {
                            refuse(
                                "Consent.provision.actor[0].reference.identifier.value",
                                "a youth-care region code such as JZ22",
                            )
                        })?),
                    },
                    _ => {
                        return Err(refuse(
                            "Consent.provision.actor[0].reference",
                            &format!("the recipient: an Organization/{{id}}, or a region as identifier of {REGION_SYSTEM}"),
                        ))
                    }
                }
            }
            _ => {
                return Err(refuse(
                    "Consent.provision.actor",
                    "one actor: the recipient organisation or region",
                ))
            }
        };
        let period = provision.period.as_ref();
        let date = |v: Option<&str>, element: &str| -> Result<Option<chrono::NaiveDate>, Refusal> {
            v.map(|d| {
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| refuse(element, "a date (YYYY-MM-DD)"))
            })
            .transpose()
        };
        let valid_from = date(
            period.and_then(|p| p.start.as_deref()),
            "Consent.provision.period.start",
        )?
        .ok_or_else(|| refuse("Consent.provision.period.start", "from when it holds"))?;
        let valid_until = date(
            period.and_then(|p| p.end.as_deref()),
            "Consent.provision.period.end",
        )?;
        // an extension this server does not know is refused, never dropped
        const KNOWN: [&str; 5] = [
            CONSENT_METHOD_EXTENSION,
            INFORMATION_VERSION_EXTENSION,
            NOTED_BY_EXTENSION,
            NO_DISAGREEMENT_EXTENSION,
            NOT_COMPETENT_EXTENSION,
        ];
        for (i, e) in self.extension.iter().enumerate() {
            if !KNOWN.contains(&e.url.as_str()) {
                return Err(refuse(
                    &format!("Consent.extension[{i}]"),
                    "an extension this server does not know",
                ));
            }
        }
        let ext = |url: &str| self.extension.iter().find(|e| e.url == url);
        let not_competent = match ext(NOT_COMPETENT_EXTENSION) {
            None => None,
            Some(e) => {
                let element = format!("Consent.extension('{NOT_COMPETENT_EXTENSION}')");
                let part = |url: &str| e.extension.iter().find(|x| x.url == url);
                let judged_by = part("judgedBy").and_then(|x| x.value_string.clone());
                let judged_on = part("judgedOn")
                    .and_then(|x| x.value_date.as_deref())
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
                let reason = part("reason").and_then(|x| x.value_string.clone());
                match (judged_by, judged_on, reason) {
                    (Some(judged_by), Some(judged_on), Some(reason))
                        if e.extension.len() == 3 =>
                    {
                        Some(crate::service::consent::NotCompetentInput::Judgement(
                            crate::service::consent::CompetenceJudgement {
                                judged_by,
                                judged_on,
                                reason,
                            },
                        ))
                    }
                    _ => {
                        return Err(refuse(
                            &element,
                            "say who judged the child not competent (judgedBy), on which day (judgedOn, a date) and why (reason)",
                        ))
                    }
                }
            }
        };
        let method = ext(CONSENT_METHOD_EXTENSION)
            .and_then(|e| e.value_code.as_deref())
            .ok_or_else(|| {
                refuse(
                    &format!("Consent.extension('{CONSENT_METHOD_EXTENSION}')"),
                    "how it was given: written, oral or digital",
                )
            })?
            .parse::<ConsentMethod>()
            .map_err(|_| {
                refuse(
                    &format!("Consent.extension('{CONSENT_METHOD_EXTENSION}')"),
                    "written, oral or digital",
                )
            })?;
        let information_version = ext(INFORMATION_VERSION_EXTENSION)
            .and_then(|e| e.value_string.clone())
            .ok_or_else(|| {
                refuse(
                    &format!("Consent.extension('{INFORMATION_VERSION_EXTENSION}')"),
                    "the version of the information text the parents were given",
                )
            })?;
        let noted_by_staff_id =
            match ext(NOTED_BY_EXTENSION).and_then(|e| e.value_string.as_deref()) {
                Some(v) => Some(v.parse::<Uuid>().map_err(|_| {
                    refuse(
                        &format!("Consent.extension('{NOTED_BY_EXTENSION}')"),
                        "the id of the staff member who noted it",
                    )
                })?),
                None => None,
            };
        Ok((
            child,
            NewConsent {
                purpose,
                recipient,
                decision,
                given_by,
                method,
                evidence_ref: self
                    .source_attachment
                    .as_ref()
                    .and_then(|a| a.title.clone()),
                noted_by_staff_id,
                information_version,
                valid_from,
                valid_until,
                no_signs_of_disagreement: ext(NO_DISAGREEMENT_EXTENSION)
                    .and_then(|e| e.value_boolean)
                    .unwrap_or(false),
                child_not_competent: not_competent,
            },
        ))
    }
}

// ---------------------------------------------------------------- Encounter

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EncounterParticipantIn {
    #[serde(default, rename = "type")]
    pub kind: Vec<CodeableConceptIn>,
    pub individual: Option<ReferenceIn>,
    pub period: Option<PeriodIn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DurationIn {
    pub value: Option<serde_json::Number>,
    pub unit: Option<String>,
    pub system: Option<String>,
    pub code: Option<String>,
}

/// A coaching visit a specialist's system logs: based on the request it belongs to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EncounterIn {
    pub resource_type: String,
    /// Ignored on create (the server gives the id), as FHIR says.
    pub id: Option<String>,
    pub meta: Option<serde_json::Value>,
    pub text: Option<serde_json::Value>,
    #[serde(default)]
    pub extension: Vec<ExtensionIn>,
    pub status: Option<String>,
    pub class: Option<CodingIn>,
    #[serde(default, rename = "type")]
    pub kind: Vec<CodeableConceptIn>,
    pub subject: Option<ReferenceIn>,
    #[serde(default)]
    pub based_on: Vec<ReferenceIn>,
    #[serde(default)]
    pub participant: Vec<EncounterParticipantIn>,
    pub period: Option<PeriodIn>,
    pub length: Option<DurationIn>,
}

/// What a posted Encounter asks for: the visit, on which request, about which child (when it
/// names one: it must be the request's).
pub struct VisitAsked {
    pub consultation: Uuid,
    pub subject: Option<Uuid>,
    pub visit: crate::service::visits::VisitInput,
}

/// The code of the one coding of `system` in a concept.
fn code_in<'a>(concept: &'a CodeableConceptIn, system: &str) -> Option<&'a str> {
    concept
        .coding
        .iter()
        .find(|c| c.system.as_deref() == Some(system))
        .and_then(|c| c.code.as_deref())
}

/// A visit's date from `period.start`: a date, or a dateTime (its day in the Netherlands).
fn visit_date(start: &str) -> Option<chrono::NaiveDate> {
    if start.len() == 10 {
        return chrono::NaiveDate::parse_from_str(start, "%Y-%m-%d").ok();
    }
    chrono::DateTime::parse_from_rfc3339(start)
        .ok()
        .map(|t| crate::domain::calendar::dutch_date(t.with_timezone(&chrono::Utc)))
}

impl EncounterIn {
    pub fn to_visit(&self) -> Result<VisitAsked, Refusal> {
        use crate::domain::consultation::{Competence, Participant, VisitKind, VisitStatus};
        if self.resource_type != "Encounter" {
            return Err(refuse("Encounter.resourceType", "this is not an Encounter"));
        }
        let status = match self.status.as_deref() {
            Some("planned") => VisitStatus::Planned,
            Some("finished") => VisitStatus::Held,
            Some("cancelled") => VisitStatus::Cancelled,
            Some(_) => {
                return Err(refuse(
                    "Encounter.status",
                    "a visit is planned, finished (held) or cancelled",
                ))
            }
            None => return Err(refuse("Encounter.status", "an Encounter has a status")),
        };
        let [kind] = self.kind.as_slice() else {
            return Err(refuse(
                "Encounter.type",
                &format!("give one type: the kind of visit ({VISIT_KIND_SYSTEM})"),
            ));
        };
        let kind: VisitKind = code_in(kind, VISIT_KIND_SYSTEM)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| {
                refuse(
                    "Encounter.type",
                    "the kind of visit is observation, staff_coaching, parent_meeting, team_meeting or remote",
                )
            })?;
        let class = self
            .class
            .as_ref()
            .filter(|c| c.system.as_deref() == Some(ACT_CODE_SYSTEM))
            .and_then(|c| c.code.as_deref());
        let expected = if kind == VisitKind::Remote {
            "VR"
        } else {
            "FLD"
        };
        match class {
            Some(c) if c == expected => {}
            Some("VR" | "FLD") => {
                return Err(refuse(
                    "Encounter.class",
                    "a remote visit is VR (virtual), one on location FLD (field)",
                ))
            }
            _ => {
                return Err(refuse(
                    "Encounter.class",
                    "the class is FLD (on location) or VR (remote) of v3-ActCode",
                ))
            }
        }
        let [based_on] = self.based_on.as_slice() else {
            return Err(refuse(
                "Encounter.basedOn",
                "name the consultation request: one ServiceRequest/{id}",
            ));
        };
        let consultation = id_of(&based_on.reference, "ServiceRequest").ok_or_else(|| {
            refuse(
                "Encounter.basedOn",
                "name the consultation request as ServiceRequest/{id}",
            )
        })?;
        let subject = match &self.subject {
            None => None,
            Some(r) => Some(
                id_of(&r.reference, "Patient")
                    .ok_or_else(|| refuse("Encounter.subject", "the subject is Patient/{id}"))?,
            ),
        };
        let start = self
            .period
            .as_ref()
            .and_then(|p| p.start.as_deref())
            .ok_or_else(|| refuse("Encounter.period.start", "give the visit's date"))?;
        let date = visit_date(start).ok_or_else(|| {
            refuse(
                "Encounter.period.start",
                "a date (YYYY-MM-DD) or a dateTime",
            )
        })?;
        let length = self
            .length
            .as_ref()
            .ok_or_else(|| refuse("Encounter.length", "give the length in minutes"))?;
        let minutes = match (
            &length.value,
            length.system.as_deref(),
            length.code.as_deref(),
        ) {
            (Some(v), Some(UCUM), Some("min")) => v.as_i64(),
            _ => None,
        }
        .ok_or_else(|| {
            refuse(
                "Encounter.length",
                "a whole number of minutes (system http://unitsofmeasure.org, code min)",
            )
        })?;
        let mut participants = Vec::new();
        for (i, p) in self.participant.iter().enumerate() {
            let element = format!("Encounter.participant[{i}]");
            let [concept] = p.kind.as_slice() else {
                return Err(refuse(&element, "give one type per participant"));
            };
            // the specialist: the one who logs it, whoever the client names
            if code_in(concept, PARTICIPATION_TYPE_SYSTEM) == Some("PPRF") {
                continue;
            }
            if p.individual.is_some() {
                return Err(refuse(
                    &element,
                    "participants are named by role only, never a person",
                ));
            }
            let role: Participant = code_in(concept, PARTICIPANT_SYSTEM)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| {
                    refuse(
                        &element,
                        &format!("the participant's role is a code of {PARTICIPANT_SYSTEM}"),
                    )
                })?;
            participants.push(role);
        }
        let mut competences = Vec::new();
        for (i, e) in self.extension.iter().enumerate() {
            let element = format!("Encounter.extension[{i}]");
            if e.url != COMPETENCE_EXTENSION {
                return Err(refuse(&element, "an extension this server does not know"));
            }
            let c: Competence = e
                .value_coding
                .as_ref()
                .filter(|c| c.system.as_deref() == Some(COMPETENCE_SYSTEM))
                .and_then(|c| c.code.as_deref())
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| {
                    refuse(
                        &element,
                        &format!("a core competence is a valueCoding of {COMPETENCE_SYSTEM}"),
                    )
                })?;
            competences.push(c);
        }
        Ok(VisitAsked {
            consultation,
            subject,
            visit: crate::service::visits::VisitInput {
                date,
                duration_minutes: minutes,
                kind,
                participants,
                competences,
                notes: None,
                advice: None,
                status: Some(status),
                notes_shared: false,
            },
        })
    }
}

/// The Encounter element a field of the workflow's visit input comes from.
pub fn encounter_element(field: &str) -> String {
    match field {
        "date" => "Encounter.period.start",
        "duration_minutes" => "Encounter.length",
        "participants" => "Encounter.participant",
        "kind" => "Encounter.type",
        "status" => "Encounter.status",
        "competences" => "Encounter.extension",
        "subject" => "Encounter.subject",
        _ => "Encounter",
    }
    .into()
}

// ---------------------------------------------------------------- ServiceRequest

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnnotationIn {
    pub text: Option<String>,
    pub time: Option<String>,
}

/// A consultation request a childcare system opens: the child, the concern it rests on, the
/// expertise asked for, the urgency and the child's question.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceRequestIn {
    pub resource_type: String,
    /// Ignored on create (the server gives the id), as FHIR says.
    pub id: Option<String>,
    pub meta: Option<serde_json::Value>,
    pub text: Option<serde_json::Value>,
    #[serde(default)]
    pub identifier: Vec<IdentifierIn>,
    pub status: Option<String>,
    pub intent: Option<String>,
    pub priority: Option<String>,
    pub code: Option<CodeableConceptIn>,
    pub subject: Option<ReferenceIn>,
    pub authored_on: Option<String>,
    pub requester: Option<ReferenceIn>,
    pub performer_type: Option<CodeableConceptIn>,
    #[serde(default)]
    pub location_reference: Vec<ReferenceIn>,
    #[serde(default)]
    pub reason_reference: Vec<ReferenceIn>,
    #[serde(default)]
    pub note: Vec<AnnotationIn>,
}

impl ServiceRequestIn {
    pub fn to_request(&self) -> Result<crate::service::consultations::NewConsultation, Refusal> {
        use crate::domain::consultation::Urgency;
        use crate::domain::types::ConcernDomain;
        if self.resource_type != "ServiceRequest" {
            return Err(refuse(
                "ServiceRequest.resourceType",
                "this is not a ServiceRequest",
            ));
        }
        match self.status.as_deref() {
            Some("active") => {}
            Some(_) => {
                return Err(refuse(
                    "ServiceRequest.status",
                    "a new request is active (drafts are not kept)",
                ))
            }
            None => {
                return Err(refuse(
                    "ServiceRequest.status",
                    "a ServiceRequest has a status",
                ))
            }
        }
        if self.intent.as_deref() != Some("order") {
            return Err(refuse(
                "ServiceRequest.intent",
                "a consultation request is an order",
            ));
        }
        let urgency = match self.priority.as_deref() {
            None | Some("routine") => Urgency::Normal,
            Some("urgent") => Urgency::High,
            Some(_) => {
                return Err(refuse(
                    "ServiceRequest.priority",
                    "the priority is routine or urgent",
                ))
            }
        };
        let child = self
            .subject
            .as_ref()
            .and_then(|r| id_of(&r.reference, "Patient"))
            .ok_or_else(|| refuse("ServiceRequest.subject", "the subject is Patient/{id}"))?;
        let [reason] = self.reason_reference.as_slice() else {
            return Err(refuse(
                "ServiceRequest.reasonReference",
                "name the mentor's concern the request rests on: one Observation/{id}",
            ));
        };
        let concern = reason
            .reference
            .as_deref()
            .and_then(|r| r.strip_prefix("Observation/"))
            .and_then(|id| match super::resources::parse_observation_id(id) {
                Some(super::resources::ObservationId::Concern(c, _)) => Some(c),
                _ => None,
            })
            .ok_or_else(|| {
                refuse(
                    "ServiceRequest.reasonReference",
                    "the concern is an Observation/{concern}-{domain} of this server",
                )
            })?;
        let expertise: ConcernDomain = self
            .performer_type
            .as_ref()
            .and_then(|c| code_in(c, super::resources::EXPERTISE_SYSTEM))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| {
                refuse(
                    "ServiceRequest.performerType",
                    &format!(
                        "the expertise asked for is a code of {}",
                        super::resources::EXPERTISE_SYSTEM
                    ),
                )
            })?;
        let [note] = self.note.as_slice() else {
            return Err(refuse(
                "ServiceRequest.note",
                "give the child's question as one note",
            ));
        };
        let question = note.text.clone().unwrap_or_default();
        Ok(crate::service::consultations::NewConsultation {
            child_id: child,
            concern_id: concern,
            question,
            expertise,
            urgency,
        })
    }
}

/// The ServiceRequest element a field of the workflow's submission comes from.
pub fn service_request_element(field: &str) -> String {
    match field {
        "question" => "ServiceRequest.note[0].text",
        "concern_id" => "ServiceRequest.reasonReference",
        "expertise" => "ServiceRequest.performerType",
        "child_id" => "ServiceRequest.subject",
        "urgency" => "ServiceRequest.priority",
        _ => "ServiceRequest",
    }
    .into()
}

// ---------------------------------------------------------------- Subscription

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChannelIn {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub endpoint: Option<String>,
    pub payload: Option<String>,
    #[serde(default)]
    pub header: Vec<String>,
}

/// A Subscription a partner registers: rest-hook, empty payload, on a whole resource type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubscriptionIn {
    pub resource_type: String,
    pub id: Option<String>,
    pub meta: Option<serde_json::Value>,
    pub text: Option<serde_json::Value>,
    pub status: Option<String>,
    pub end: Option<String>,
    pub reason: Option<String>,
    pub criteria: Option<String>,
    pub error: Option<String>,
    pub channel: Option<ChannelIn>,
}

impl SubscriptionIn {
    /// The endpoint and what it listens to.
    pub fn to_subscription(
        &self,
    ) -> Result<(String, crate::service::webhooks::SubscriptionView), Refusal> {
        if self.resource_type != "Subscription" {
            return Err(refuse(
                "Subscription.resourceType",
                "this is not a Subscription",
            ));
        }
        match self.status.as_deref() {
            Some("requested" | "active") => {}
            _ => {
                return Err(refuse(
                    "Subscription.status",
                    "a new Subscription is requested",
                ))
            }
        }
        if self.end.is_some() {
            return Err(refuse(
                "Subscription.end",
                "a Subscription here runs until it is deleted",
            ));
        }
        let reason = self
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| refuse("Subscription.reason", "say why you subscribe"))?;
        let criteria = self
            .criteria
            .as_deref()
            .filter(|c| crate::service::webhooks::subscription_events(c).is_some())
            .ok_or_else(|| {
                refuse(
                    "Subscription.criteria",
                    "the criteria are Task or Consent (a whole resource type; what you hear of is what concerns your organisation)",
                )
            })?;
        let channel = self
            .channel
            .as_ref()
            .ok_or_else(|| refuse("Subscription.channel", "give the rest-hook channel"))?;
        if channel.kind.as_deref() != Some("rest-hook") {
            return Err(refuse(
                "Subscription.channel.type",
                "the channel is rest-hook",
            ));
        }
        if channel.payload.is_some() {
            return Err(refuse(
                "Subscription.channel.payload",
                "notifications have an empty body: leave out payload, and read what changed with your own token",
            ));
        }
        if !channel.header.is_empty() {
            return Err(refuse(
                "Subscription.channel.header",
                "notifications are signed (webhook-signature); no headers of your own are sent",
            ));
        }
        let endpoint = channel
            .endpoint
            .clone()
            .ok_or_else(|| refuse("Subscription.channel.endpoint", "give the endpoint URL"))?;
        Ok((
            endpoint,
            crate::service::webhooks::SubscriptionView {
                criteria: criteria.to_string(),
                reason: Some(reason.to_string()),
            },
        ))
    }
}

/// The Subscription element a field of the workflow's endpoint input comes from.
pub fn subscription_element(field: &str) -> String {
    match field {
        "url" => "Subscription.channel.endpoint",
        "criteria" | "events" => "Subscription.criteria",
        "reason" => "Subscription.reason",
        _ => "Subscription",
    }
    .into()
}

/// The Consent element a field of the workflow's consent input comes from (a FHIRPath):
/// `given_by[1].guardian_id` is `Consent.performer[1]`.
pub fn consent_element(field: &str) -> String {
    let head = field.split(['[', '.']).next().unwrap_or(field);
    let index = field
        .strip_prefix(head)
        .and_then(|rest| rest.strip_prefix('['))
        .and_then(|rest| rest.split(']').next())
        .map(|i| format!("[{i}]"))
        .unwrap_or_default();
    let ext = |url: &str| format!("Consent.extension('{url}')");
    match head {
        "given_by" => format!("Consent.performer{index}"),
        "purpose" => "Consent.provision.purpose".into(),
        "recipient" => "Consent.provision.actor[0].reference".into(),
        "decision" => "Consent.status".into(),
        "valid_from" => "Consent.provision.period.start".into(),
        "valid_until" => "Consent.provision.period.end".into(),
        "evidence_ref" => "Consent.sourceAttachment.title".into(),
        "method" => ext(CONSENT_METHOD_EXTENSION),
        "information_version" => ext(INFORMATION_VERSION_EXTENSION),
        "noted_by_staff_id" => ext(NOTED_BY_EXTENSION),
        "no_signs_of_disagreement" => ext(NO_DISAGREEMENT_EXTENSION),
        "child_not_competent" => ext(NOT_COMPETENT_EXTENSION),
        _ => "Consent".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::consent_element;

    #[test]
    fn workflow_fields_are_named_as_consent_elements() {
        assert_eq!(consent_element("given_by"), "Consent.performer");
        assert_eq!(
            consent_element("given_by[1].guardian_id"),
            "Consent.performer[1]"
        );
        assert_eq!(
            consent_element("recipient.organization_id"),
            "Consent.provision.actor[0].reference"
        );
        assert_eq!(
            consent_element("method"),
            "Consent.extension('https://kindbrug.nl/fhir/StructureDefinition/consent-method')"
        );
        assert_eq!(
            consent_element("child_not_competent.reason"),
            "Consent.extension('https://kindbrug.nl/fhir/StructureDefinition/child-not-competent')"
        );
        assert_eq!(consent_element("anything_else"), "Consent");
    }
}
