//! The FHIR R4 resources this facade emits, as hand-written serde types: only the elements we
//! fill, no empty arrays, codes from the required bindings.

use crate::domain::consent::{ConsentStatus, Decision};
use crate::domain::types::OrganizationKind;
use crate::domain::types::Relationship;
use crate::service::children::{ChildView, GuardianView};
use crate::service::consent::ConsentView;
use crate::service::consultations::ConsultationView;
use crate::service::registry::{LocationView, OrganizationView};
use serde::Serialize;
use uuid::Uuid;

/// The identifier system of an organisation's own child numbers (`external_ref`): one system
/// per organisation, so two organisations' "K-0001" never meet.
pub fn identifier_system(organization: Uuid) -> String {
    format!("urn:kindbrug:organization:{organization}:child")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub version_id: String,
    pub last_updated: String,
}

#[derive(Serialize)]
pub struct Identifier {
    pub system: String,
    pub value: String,
}

#[derive(Serialize)]
pub struct HumanName {
    pub given: Vec<String>,
}

#[derive(Serialize)]
pub struct Reference {
    pub reference: String,
}

/// The child. Never a BSN: Kindbrug does not hold one.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    pub resource_type: &'static str,
    pub id: String,
    pub meta: Meta,
    pub identifier: Vec<Identifier>,
    pub active: bool,
    pub name: Vec<HumanName>,
    pub birth_date: String,
    pub managing_organization: Reference,
}

fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<&ChildView> for Patient {
    fn from(c: &ChildView) -> Self {
        Patient {
            resource_type: "Patient",
            id: c.id.to_string(),
            meta: Meta {
                version_id: c.version.to_string(),
                last_updated: instant(c.updated_at),
            },
            identifier: vec![Identifier {
                system: identifier_system(c.organization_id),
                value: c.external_ref.clone(),
            }],
            active: c.left_on.is_none(),
            name: vec![HumanName {
                given: vec![c.given_name.clone()],
            }],
            birth_date: c.date_of_birth.to_string(),
            managing_organization: Reference {
                reference: format!("Organization/{}", c.organization_id),
            },
        }
    }
}

#[derive(Serialize)]
pub struct Coding {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
}

#[derive(Serialize)]
pub struct CodeableConcept {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coding: Vec<Coding>,
    pub text: String,
}

/// An organisation: a childcare organisation, a youth-care provider or a municipality.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub resource_type: &'static str,
    pub id: String,
    pub active: bool,
    #[serde(rename = "type")]
    pub kind: Vec<CodeableConcept>,
    pub name: String,
}

impl From<&OrganizationView> for Organization {
    fn from(o: &OrganizationView) -> Self {
        const TYPES: &str = "http://terminology.hl7.org/CodeSystem/organization-type";
        let (code, display, text) = match o.kind {
            OrganizationKind::Childcare => ("prov", "Healthcare Provider", "kinderopvang"),
            OrganizationKind::YouthCare => ("prov", "Healthcare Provider", "jeugdhulpaanbieder"),
            OrganizationKind::Municipality => ("govt", "Government", "gemeente"),
        };
        Organization {
            resource_type: "Organization",
            id: o.id.to_string(),
            active: o.active,
            kind: vec![CodeableConcept {
                coding: vec![Coding {
                    system: TYPES,
                    code,
                    display,
                }],
                text: text.into(),
            }],
            name: o.name.clone(),
        }
    }
}

/// A childcare location (*kindercentrum*); its registration in the Landelijk Register
/// Kinderopvang as identifier.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub resource_type: &'static str,
    pub id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
    pub status: &'static str,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Vec<CodeableConcept>,
    pub managing_organization: Reference,
}

/// The identifier system of registration numbers in the Landelijk Register Kinderopvang.
pub const LRK_SYSTEM: &str = "urn:kindbrug:lrk";

impl From<&LocationView> for Location {
    fn from(l: &LocationView) -> Self {
        Location {
            resource_type: "Location",
            id: l.id.to_string(),
            identifier: l
                .lrk_number
                .iter()
                .map(|n| Identifier {
                    system: LRK_SYSTEM.into(),
                    value: n.clone(),
                })
                .collect(),
            status: if l.active { "active" } else { "inactive" },
            name: l.name.clone(),
            kind: vec![CodeableConcept {
                coding: Vec::new(),
                text: crate::web::labels::location_type(l.location_type).into(),
            }],
            managing_organization: Reference {
                reference: format!("Organization/{}", l.organization_id),
            },
        }
    }
}

#[derive(Serialize)]
pub struct CodingOf {
    pub system: &'static str,
    pub code: String,
    pub display: String,
}

#[derive(Serialize)]
pub struct Period {
    pub start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

#[derive(Serialize)]
pub struct ActorReference {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A region as recipient: its code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

#[derive(Serialize)]
pub struct ProvisionActor {
    pub role: CodeableConcept,
    pub reference: ActorReference,
}

#[derive(Serialize)]
pub struct Provision {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub period: Period,
    pub actor: Vec<ProvisionActor>,
    pub purpose: Vec<CodingOf>,
}

/// A parent's (or the child's) decision about sharing for one purpose with one recipient. A
/// withdrawn or superseded record is `inactive`, a refusal `rejected`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub resource_type: &'static str,
    pub id: String,
    pub meta: Meta,
    pub extension: Vec<Extension>,
    pub status: &'static str,
    pub scope: CodeableConcept,
    pub category: Vec<CodeableConcept>,
    pub patient: Reference,
    pub date_time: String,
    pub performer: Vec<Reference>,
    /// Written consent: the reference of the signed form, as the attachment's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_attachment: Option<AttachmentTitle>,
    pub policy_rule: CodeableConcept,
    pub provision: Provision,
}

#[derive(Serialize)]
pub struct AttachmentTitle {
    pub title: String,
}

/// A consent record's versions: 1 as recorded (`active`, or `rejected` for a refusal), 2 once
/// it stopped counting (`inactive`: withdrawn, or superseded by a newer decision). Records are
/// never edited otherwise, so these two are its whole history.
pub fn consent_version(c: &ConsentView) -> i64 {
    if c.status == ConsentStatus::Active {
        1
    } else {
        2
    }
}

impl Consent {
    /// The record as it was at `version` (1 or 2), if it had that version.
    pub fn at_version(c: &ConsentView, version: i64) -> Option<Consent> {
        let current = consent_version(c);
        if version == current {
            return Some(Consent::from(c));
        }
        if version != 1 || current != 2 {
            return None;
        }
        let mut first = Consent::from(c);
        first.status = match c.decision {
            Decision::Granted => "active",
            Decision::Refused => "rejected",
        };
        first.meta = Meta {
            version_id: "1".into(),
            last_updated: instant(c.recorded_at),
        };
        Some(first)
    }
}

/// Kindbrug's purposes of consent (`consultation`, `information_sharing`, `referral`).
pub const PURPOSE_SYSTEM: &str = "urn:kindbrug:consent-purpose";

impl From<&ConsentView> for Consent {
    fn from(c: &ConsentView) -> Self {
        let status = match (c.status, c.decision) {
            (ConsentStatus::Active, Decision::Granted) => "active",
            (ConsentStatus::Active, Decision::Refused) => "rejected",
            (ConsentStatus::Withdrawn | ConsentStatus::Superseded, _) => "inactive",
        };
        let performer = c
            .given_by
            .iter()
            .map(|g| Reference {
                reference: match g.guardian_id {
                    Some(id) => format!("RelatedPerson/{id}"),
                    None => format!("Patient/{}", c.child_id),
                },
            })
            .collect();
        let recipient = match (&c.recipient.organization_id, &c.recipient.region_code) {
            (Some(o), _) => ActorReference {
                reference: Some(format!("Organization/{o}")),
                identifier: None,
                display: None,
            },
            (None, Some(r)) => ActorReference {
                reference: None,
                identifier: Some(Identifier {
                    system: REGION_SYSTEM.into(),
                    value: r.to_string(),
                }),
                display: Some(format!("de jeugdhulpspecialisten van jeugdregio {r}")),
            },
            (None, None) => ActorReference {
                reference: None,
                identifier: None,
                display: Some("onbekend".into()),
            },
        };
        let mut extension = vec![
            Extension {
                extension: Vec::new(),
                url: CONSENT_METHOD_EXTENSION,
                value_boolean: None,
                value_code: Some(c.method.as_str()),
                value_string: None,
                value_date: None,
            },
            Extension {
                extension: Vec::new(),
                url: INFORMATION_VERSION_EXTENSION,
                value_boolean: None,
                value_code: None,
                value_string: Some(c.information_version.clone()),
                value_date: None,
            },
        ];
        if let Some(staff) = c.noted_by_staff_id {
            extension.push(Extension {
                extension: Vec::new(),
                url: NOTED_BY_EXTENSION,
                value_boolean: None,
                value_code: None,
                value_string: Some(staff.to_string()),
                value_date: None,
            });
        }
        if let Some(j) = &c.not_competent_judgement {
            let mut judgement = Extension::string(NOT_COMPETENT_EXTENSION, String::new());
            judgement.value_string = None;
            judgement
                .extension
                .push(Extension::string("judgedBy", j.judged_by.clone()));
            if let Some(on) = j.judged_on {
                let mut day = Extension::string("judgedOn", String::new());
                day.value_string = None;
                day.value_date = Some(on.to_string());
                judgement.extension.push(day);
            }
            extension.push(judgement);
        }
        if c.no_signs_of_disagreement {
            extension.push(Extension {
                extension: Vec::new(),
                url: NO_DISAGREEMENT_EXTENSION,
                value_boolean: Some(true),
                value_code: None,
                value_string: None,
                value_date: None,
            });
        }
        Consent {
            resource_type: "Consent",
            id: c.id.to_string(),
            meta: Meta {
                version_id: consent_version(c).to_string(),
                last_updated: instant(c.ended_at.unwrap_or(c.recorded_at)),
            },
            extension,
            status,
            scope: CodeableConcept {
                coding: vec![Coding {
                    system: "http://terminology.hl7.org/CodeSystem/consentscope",
                    code: "patient-privacy",
                    display: "Privacy Consent",
                }],
                text: "toestemming van de ouders (of het kind) om gegevens te delen".into(),
            },
            category: vec![CodeableConcept {
                coding: vec![Coding {
                    system: "http://loinc.org",
                    code: "59284-0",
                    display: "Patient Consent",
                }],
                text: "toestemming".into(),
            }],
            patient: Reference {
                reference: format!("Patient/{}", c.child_id),
            },
            date_time: instant(c.recorded_at),
            performer,
            source_attachment: c
                .evidence_ref
                .clone()
                .map(|title| AttachmentTitle { title }),
            policy_rule: CodeableConcept {
                coding: Vec::new(),
                text: format!(
                    "Kindbrug: toestemming naar Nederlands recht (AVG, Wgbo, Jeugdwet); informatietekst {}",
                    c.information_version
                ),
            },
            provision: Provision {
                kind: match c.decision {
                    Decision::Granted => "permit",
                    Decision::Refused => "deny",
                },
                period: Period {
                    start: c.valid_from.to_string(),
                    end: c.valid_until.map(|d| d.to_string()),
                },
                actor: vec![ProvisionActor {
                    role: CodeableConcept {
                        coding: vec![Coding {
                            system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            code: "IRCP",
                            display: "information recipient",
                        }],
                        text: "ontvanger".into(),
                    },
                    reference: recipient,
                }],
                purpose: vec![CodingOf {
                    system: PURPOSE_SYSTEM,
                    code: c.purpose.as_str().to_string(),
                    display: c.purpose.as_str().replace('_', " "),
                }],
            },
        }
    }
}

#[derive(Serialize)]
pub struct ContactPoint {
    pub system: &'static str,
    pub value: String,
}

#[derive(Serialize)]
pub struct NameText {
    pub text: String,
}

/// An extension of our own: whether this person has parental authority (*gezag*), and where
/// that is known from.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    /// Nested: the parts of a complex extension.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
    pub url: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_boolean: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_date: Option<String>,
}

impl Extension {
    fn string(url: &'static str, value: String) -> Self {
        Extension {
            extension: Vec::new(),
            url,
            value_boolean: None,
            value_code: None,
            value_string: Some(value),
            value_date: None,
        }
    }
}

/// Extensions of a Consent: how it was given (written, oral, digital), the version of the
/// information text the parents were given, who noted an oral consent, and (information
/// sharing) that one parent consented with no signs the other disagrees.
pub const CONSENT_METHOD_EXTENSION: &str =
    "https://kindbrug.nl/fhir/StructureDefinition/consent-method";
pub const INFORMATION_VERSION_EXTENSION: &str =
    "https://kindbrug.nl/fhir/StructureDefinition/information-version";
pub const NOTED_BY_EXTENSION: &str =
    "https://kindbrug.nl/fhir/StructureDefinition/consent-noted-by";
pub const NO_DISAGREEMENT_EXTENSION: &str =
    "https://kindbrug.nl/fhir/StructureDefinition/no-signs-of-disagreement";
/// A child of 12 or older judged not competent in the matter (*wilsonbekwaam*): who judged it
/// (`judgedBy`, valueString), on which day (`judgedOn`, valueDate) and why (`reason`,
/// valueString; taken in, never given out: it is about the child).
pub const NOT_COMPETENT_EXTENSION: &str =
    "https://kindbrug.nl/fhir/StructureDefinition/child-not-competent";

/// The extension URLs of parental authority and its source.
pub const GEZAG_EXTENSION: &str = "https://kindbrug.nl/fhir/StructureDefinition/parental-authority";
pub const GEZAG_SOURCE_EXTENSION: &str =
    "https://kindbrug.nl/fhir/StructureDefinition/parental-authority-source";

/// A parent or guardian of the child.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelatedPerson {
    pub resource_type: &'static str,
    pub id: String,
    pub extension: Vec<Extension>,
    pub active: bool,
    pub patient: Reference,
    pub relationship: Vec<CodeableConcept>,
    pub name: Vec<NameText>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub telecom: Vec<ContactPoint>,
}

impl From<&GuardianView> for RelatedPerson {
    fn from(g: &GuardianView) -> Self {
        const ROLES: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
        let (code, display, text) = match g.relationship {
            Relationship::Parent => ("PRN", "parent", "ouder"),
            Relationship::FosterParent => ("PRNFOST", "foster parent", "pleegouder"),
            Relationship::Guardian => ("GUARD", "guardian", "voogd"),
            Relationship::Other => ("FAMMEMB", "family member", "anders"),
        };
        let mut extension = vec![Extension {
            extension: Vec::new(),
            url: GEZAG_EXTENSION,
            value_boolean: Some(g.has_parental_authority),
            value_code: None,
            value_string: None,
            value_date: None,
        }];
        if let Some(source) = g.authority_source {
            extension.push(Extension {
                extension: Vec::new(),
                url: GEZAG_SOURCE_EXTENSION,
                value_boolean: None,
                value_code: Some(source.as_str()),
                value_string: None,
                value_date: None,
            });
        }
        let mut telecom = Vec::new();
        if let Some(e) = &g.email {
            telecom.push(ContactPoint {
                system: "email",
                value: e.clone(),
            });
        }
        if let Some(p) = &g.phone {
            telecom.push(ContactPoint {
                system: "phone",
                value: p.clone(),
            });
        }
        RelatedPerson {
            resource_type: "RelatedPerson",
            id: g.id.to_string(),
            extension,
            active: true,
            patient: Reference {
                reference: format!("Patient/{}", g.child_id),
            },
            relationship: vec![CodeableConcept {
                coding: vec![Coding {
                    system: ROLES,
                    code,
                    display,
                }],
                text: text.into(),
            }],
            name: vec![NameText {
                text: g.name.clone(),
            }],
            telecom,
        }
    }
}

// ---------------------------------------------------------------- consultation requests

/// Kindbrug's own statuses of a consultation request, as `Task.businessStatus`: where FHIR's
/// Task statuses cannot say it (`offered` to one specialist, `unassigned` in the region's queue).
pub const CONSULTATION_STATUS_SYSTEM: &str =
    "https://kindbrug.nl/fhir/CodeSystem/consultation-status";
/// The expertise asked for (a developmental domain), as `ServiceRequest.performerType`.
pub const EXPERTISE_SYSTEM: &str = "https://kindbrug.nl/fhir/CodeSystem/expertise";
/// How a request ended for the child, as `Task.output`.
pub const OUTCOME_SYSTEM: &str = "https://kindbrug.nl/fhir/CodeSystem/consultation-outcome";

#[derive(Serialize)]
pub struct Annotation {
    pub text: String,
}

#[derive(Serialize)]
pub struct TextOnly {
    pub text: String,
}

/// The request for consultation as an order: who it is for, the expertise asked for, and the
/// question (for those who may read it).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRequest {
    pub resource_type: &'static str,
    pub id: String,
    pub meta: Meta,
    pub status: &'static str,
    pub intent: &'static str,
    pub priority: &'static str,
    pub code: CodeableConcept,
    pub subject: Reference,
    pub authored_on: String,
    pub requester: Reference,
    pub performer_type: CodeableConceptOf,
    pub location_reference: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<Annotation>,
}

#[derive(Serialize)]
pub struct CodeableConceptOf {
    pub coding: Vec<CodingOf>,
    pub text: String,
}

/// Where the request stands in the workflow.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub resource_type: &'static str,
    pub id: String,
    pub meta: Meta,
    pub status: &'static str,
    pub business_status: CodeableConceptOf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<TextOnly>,
    pub intent: &'static str,
    pub priority: &'static str,
    pub focus: Reference,
    #[serde(rename = "for")]
    pub for_: Reference,
    pub authored_on: String,
    pub last_modified: String,
    pub requester: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Reference>,
    /// Offered: until when the specialist may answer (`answer-due`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<DateTimeExtension>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<TaskOutput>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeExtension {
    pub url: &'static str,
    pub value_date_time: String,
}

/// Until when the specialist a request is offered to may answer.
pub const ANSWER_DUE_EXTENSION: &str = "https://kindbrug.nl/fhir/StructureDefinition/answer-due";

/// The identifier system of youth-care regions (*jeugdregio's*, CBS codes such as `JZ22`).
pub const REGION_SYSTEM: &str = "https://kindbrug.nl/fhir/NamingSystem/jeugdregio";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskOutput {
    #[serde(rename = "type")]
    pub kind: TextOnly,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<CodeableConceptOf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_reference: Option<Reference>,
}

fn priority(u: crate::domain::consultation::Urgency) -> &'static str {
    match u {
        crate::domain::consultation::Urgency::Normal => "routine",
        crate::domain::consultation::Urgency::High => "urgent",
    }
}

/// Kindbrug's status as a FHIR Task status.
pub fn task_status(s: crate::domain::consultation::ConsultationStatus) -> &'static str {
    use crate::domain::consultation::ConsultationStatus as S;
    match s {
        // offered: a named specialist is weighing whether to take it on (FHIR's `received`);
        // unassigned: no one yet, waiting in the region's queue
        S::Requested | S::Unassigned => "requested",
        S::Offered => "received",
        S::Accepted => "accepted",
        S::InProgress => "in-progress",
        S::OnHold => "on-hold",
        S::Rejected => "rejected",
        S::Cancelled => "cancelled",
        S::Completed => "completed",
    }
}

/// Kindbrug's status as a FHIR ServiceRequest status.
pub fn request_status(s: crate::domain::consultation::ConsultationStatus) -> &'static str {
    use crate::domain::consultation::ConsultationStatus as S;
    match s {
        S::OnHold => "on-hold",
        S::Completed => "completed",
        S::Rejected | S::Cancelled => "revoked",
        _ => "active",
    }
}

impl From<&ConsultationView> for ServiceRequest {
    fn from(c: &ConsultationView) -> Self {
        ServiceRequest {
            resource_type: "ServiceRequest",
            id: c.id.to_string(),
            meta: Meta {
                version_id: c.version.to_string(),
                last_updated: instant(c.updated_at),
            },
            status: request_status(c.status),
            intent: "order",
            priority: priority(c.urgency),
            code: CodeableConcept {
                coding: Vec::new(),
                text: "consultatie door een jeugdhulpspecialist (Alert4you)".into(),
            },
            subject: Reference {
                reference: format!("Patient/{}", c.child_id),
            },
            authored_on: instant(c.created_at),
            requester: Reference {
                reference: format!("Organization/{}", c.organization_id),
            },
            performer_type: CodeableConceptOf {
                coding: vec![CodingOf {
                    system: EXPERTISE_SYSTEM,
                    code: c.expertise.as_str().into(),
                    display: c.expertise.as_str().replace('_', " "),
                }],
                text: c.expertise.as_str().replace('_', " "),
            },
            location_reference: vec![Reference {
                reference: format!("Location/{}", c.location_id),
            }],
            // the question only for those the workflow shows it to
            note: c
                .question
                .iter()
                .map(|q| Annotation { text: q.clone() })
                .collect(),
        }
    }
}

impl From<&ConsultationView> for Task {
    fn from(c: &ConsultationView) -> Self {
        let owner = c
            .assigned_to
            .or(c.offered_to)
            .filter(|_| {
                !matches!(
                    c.status,
                    crate::domain::consultation::ConsultationStatus::Requested
                        | crate::domain::consultation::ConsultationStatus::Unassigned
                )
            })
            .map(|id| Reference {
                reference: format!("PractitionerRole/{id}"),
            });
        Task {
            resource_type: "Task",
            id: c.id.to_string(),
            meta: Meta {
                version_id: c.version.to_string(),
                last_updated: instant(c.updated_at),
            },
            status: task_status(c.status),
            business_status: CodeableConceptOf {
                coding: vec![CodingOf {
                    system: CONSULTATION_STATUS_SYSTEM,
                    code: c.status.as_str().into(),
                    display: c.status.as_str().replace('_', " "),
                }],
                text: c.status.as_str().replace('_', " "),
            },
            status_reason: c.status_reason.clone().map(|text| TextOnly { text }),
            intent: "order",
            priority: priority(c.urgency),
            focus: Reference {
                reference: format!("ServiceRequest/{}", c.id),
            },
            for_: Reference {
                reference: format!("Patient/{}", c.child_id),
            },
            authored_on: instant(c.created_at),
            last_modified: instant(c.updated_at),
            requester: Reference {
                reference: format!("Organization/{}", c.organization_id),
            },
            owner,
            extension: c
                .answer_due
                .filter(|_| c.status == crate::domain::consultation::ConsultationStatus::Offered)
                .map(|due| DateTimeExtension {
                    url: ANSWER_DUE_EXTENSION,
                    value_date_time: instant(due),
                })
                .into_iter()
                .collect(),
            output: c
                .outcome
                .iter()
                .flat_map(|o| {
                    [
                        TaskOutput {
                            kind: TextOnly {
                                text: "uitkomst voor het kind".into(),
                            },
                            value_codeable_concept: Some(concept(OUTCOME_SYSTEM, o.as_str())),
                            value_reference: None,
                        },
                        TaskOutput {
                            kind: TextOnly {
                                text: "uitkomst voor het kind (Observation)".into(),
                            },
                            value_codeable_concept: None,
                            value_reference: Some(Reference {
                                reference: format!("Observation/{}", outcome_observation_id(c.id)),
                            }),
                        },
                    ]
                })
                .collect(),
        }
    }
}

// ---------------------------------------------------------------- observations

/// A developmental domain (`language`, `motor`, …) a concern is about, as `Observation.code`.
pub const DEVELOPMENTAL_DOMAIN_SYSTEM: &str =
    "https://kindbrug.nl/fhir/CodeSystem/developmental-domain";
/// What an Observation of ours is: a mentor's `concern`, or a request's `consultation-outcome`.
pub const OBSERVATION_CATEGORY_SYSTEM: &str =
    "https://kindbrug.nl/fhir/CodeSystem/observation-category";

/// A mentor's concern about one developmental domain of the child, or how a consultation
/// request ended for the child.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    pub resource_type: &'static str,
    pub id: String,
    pub meta: Meta,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub based_on: Vec<Reference>,
    pub status: &'static str,
    pub category: Vec<CodeableConceptOf>,
    pub code: CodeableConceptOf,
    pub subject: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_date_time: Option<String>,
    pub issued: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub performer: Vec<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_codeable_concept: Option<CodeableConceptOf>,
}

/// The id of a concern's Observation for one domain: `{concern}-{domain}` (FHIR ids take no `_`).
pub fn concern_observation_id(concern: Uuid, domain: &str) -> String {
    format!("{concern}-{}", domain.replace('_', "-"))
}

/// The id of a request's outcome as an Observation.
pub fn outcome_observation_id(request: Uuid) -> String {
    format!("{request}-outcome")
}

/// What an Observation id names: a concern's domain, or a request's outcome.
pub enum ObservationId {
    Concern(Uuid, String),
    Outcome(Uuid),
}

pub fn parse_observation_id(id: &str) -> Option<ObservationId> {
    let (uuid, rest) = (id.get(..36)?, id.get(36..)?);
    let uuid: Uuid = uuid.parse().ok()?;
    let rest = rest.strip_prefix('-')?;
    if rest == "outcome" {
        return Some(ObservationId::Outcome(uuid));
    }
    let domain = rest.replace('-', "_");
    domain
        .parse::<crate::domain::types::ConcernDomain>()
        .ok()
        .map(|d| ObservationId::Concern(uuid, d.as_str().to_string()))
}

impl Observation {
    /// The concerns of a mentor, one Observation per developmental domain.
    pub fn of_concern(c: &crate::service::consultations::ConcernView) -> Vec<Observation> {
        c.domains
            .iter()
            .map(|d| Observation {
                resource_type: "Observation",
                id: concern_observation_id(c.id, d),
                meta: Meta {
                    version_id: "1".into(),
                    last_updated: instant(c.created_at),
                },
                based_on: Vec::new(),
                status: "final",
                category: vec![concept(OBSERVATION_CATEGORY_SYSTEM, "concern")],
                code: concept(DEVELOPMENTAL_DOMAIN_SYSTEM, d),
                subject: Reference {
                    reference: format!("Patient/{}", c.child_id),
                },
                effective_period: Some(Period {
                    start: c.observed_since.to_string(),
                    end: None,
                }),
                effective_date_time: None,
                issued: instant(c.created_at),
                performer: Vec::new(),
                value_string: Some(c.observation.clone()),
                value_codeable_concept: None,
            })
            .collect()
    }

    /// How a closed request ended for the child (none while it is open).
    pub fn of_outcome(c: &ConsultationView) -> Option<Observation> {
        let outcome = c.outcome?;
        let closed = c.closed_at.unwrap_or(c.updated_at);
        Some(Observation {
            resource_type: "Observation",
            id: outcome_observation_id(c.id),
            meta: Meta {
                version_id: "1".into(),
                last_updated: instant(closed),
            },
            based_on: vec![Reference {
                reference: format!("ServiceRequest/{}", c.id),
            }],
            status: "final",
            category: vec![concept(OBSERVATION_CATEGORY_SYSTEM, "consultation-outcome")],
            code: CodeableConceptOf {
                coding: vec![CodingOf {
                    system: OBSERVATION_CATEGORY_SYSTEM,
                    code: "consultation-outcome".into(),
                    display: "consultation outcome".into(),
                }],
                text: "uitkomst voor het kind".into(),
            },
            subject: Reference {
                reference: format!("Patient/{}", c.child_id),
            },
            effective_period: None,
            effective_date_time: Some(instant(closed)),
            issued: instant(closed),
            performer: c
                .assigned_to
                .map(|s| Reference {
                    reference: format!("PractitionerRole/{s}"),
                })
                .into_iter()
                .collect(),
            value_string: None,
            value_codeable_concept: Some(concept(OUTCOME_SYSTEM, outcome.as_str())),
        })
    }
}

// ---------------------------------------------------------------- the directory and the group

/// A staff member's role in Kindbrug (`mentor`, `specialist`, …), as `PractitionerRole.code`.
pub const STAFF_ROLE_SYSTEM: &str = "https://kindbrug.nl/fhir/CodeSystem/staff-role";
/// The service a youth-care provider offers through Kindbrug.
pub const SERVICE_TYPE_SYSTEM: &str = "https://kindbrug.nl/fhir/CodeSystem/service-type";
/// A group's location, as an extension of the Group.
pub const GROUP_LOCATION_EXTENSION: &str =
    "https://kindbrug.nl/fhir/StructureDefinition/group-location";

#[derive(Serialize)]
pub struct DisplayOnly {
    pub display: String,
}

/// A staff member's professional role: organisation, role, expertise as specialty, locations;
/// the person only by name (there is no Practitioner resource here).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PractitionerRole {
    pub resource_type: &'static str,
    pub id: String,
    pub active: bool,
    pub practitioner: DisplayOnly,
    pub organization: Reference,
    pub code: Vec<CodeableConceptOf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub specialty: Vec<CodeableConceptOf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub location: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub healthcare_service: Vec<Reference>,
}

impl From<&crate::service::registry::ProfessionalRoleView> for PractitionerRole {
    fn from(r: &crate::service::registry::ProfessionalRoleView) -> Self {
        let specialist = r.role == crate::domain::types::StaffRole::Specialist;
        PractitionerRole {
            resource_type: "PractitionerRole",
            id: r.id.to_string(),
            active: r.active,
            practitioner: DisplayOnly {
                display: r.name.clone(),
            },
            organization: Reference {
                reference: format!("Organization/{}", r.organization_id),
            },
            code: vec![concept(STAFF_ROLE_SYSTEM, r.role.as_str())],
            specialty: r
                .expertise
                .iter()
                .map(|e| concept(EXPERTISE_SYSTEM, e.as_str()))
                .collect(),
            location: r
                .location_ids
                .iter()
                .map(|l| Reference {
                    reference: format!("Location/{l}"),
                })
                .collect(),
            healthcare_service: if specialist {
                vec![Reference {
                    reference: format!("HealthcareService/{}", r.organization_id),
                }]
            } else {
                Vec::new()
            },
        }
    }
}

#[derive(Serialize)]
pub struct AreaReference {
    pub identifier: Identifier,
    pub display: String,
}

/// What a youth-care provider offers through Kindbrug: consultation by its specialists, the
/// expertise as specialty, the regions (*jeugdregio's*) as coverage area (by their code).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthcareService {
    pub resource_type: &'static str,
    pub id: String,
    pub active: bool,
    pub provided_by: Reference,
    #[serde(rename = "type")]
    pub kind: Vec<CodeableConceptOf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub specialty: Vec<CodeableConceptOf>,
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coverage_area: Vec<AreaReference>,
}

impl From<&crate::service::registry::ProviderOfferView> for HealthcareService {
    fn from(o: &crate::service::registry::ProviderOfferView) -> Self {
        HealthcareService {
            resource_type: "HealthcareService",
            id: o.organization_id.to_string(),
            active: o.active,
            provided_by: Reference {
                reference: format!("Organization/{}", o.organization_id),
            },
            kind: vec![CodeableConceptOf {
                coding: vec![CodingOf {
                    system: SERVICE_TYPE_SYSTEM,
                    code: "consultation".into(),
                    display: "consultation".into(),
                }],
                text: "consultatie door een jeugdhulpspecialist op de groep".into(),
            }],
            specialty: o
                .expertise
                .iter()
                .map(|e| concept(EXPERTISE_SYSTEM, e.as_str()))
                .collect(),
            name: format!("Consultatie — {}", o.organization_name),
            coverage_area: o
                .regions
                .iter()
                .map(|r| AreaReference {
                    identifier: Identifier {
                        system: REGION_SYSTEM.into(),
                        value: r.code.clone(),
                    },
                    display: r.name.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceExtension {
    pub url: &'static str,
    pub value_reference: Reference,
}

/// A group (*groep*) of a location. Its children are not listed: a member list is child data.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub resource_type: &'static str,
    pub id: String,
    pub extension: Vec<ReferenceExtension>,
    pub active: bool,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub actual: bool,
    pub name: String,
    pub managing_entity: Reference,
}

impl Group {
    pub fn of(g: &crate::service::registry::GroupView, organization: Uuid) -> Self {
        Group {
            resource_type: "Group",
            id: g.id.to_string(),
            extension: vec![ReferenceExtension {
                url: GROUP_LOCATION_EXTENSION,
                value_reference: Reference {
                    reference: format!("Location/{}", g.location_id),
                },
            }],
            active: g.active,
            kind: "person",
            actual: true,
            name: g.name.clone(),
            managing_entity: Reference {
                reference: format!("Organization/{organization}"),
            },
        }
    }
}

#[derive(Serialize)]
pub struct CareTeamParticipant {
    pub role: Vec<CodeableConceptOf>,
    pub member: Reference,
    pub period: Period,
}

/// The child's mentors (*mentor*: the practitioner who follows the child and talks with the
/// parents), now and before, each with the period of the assignment.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CareTeam {
    pub resource_type: &'static str,
    pub id: String,
    pub status: &'static str,
    pub name: String,
    pub subject: Reference,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub participant: Vec<CareTeamParticipant>,
    pub managing_organization: Vec<Reference>,
}

impl CareTeam {
    pub fn of(
        child: &ChildView,
        mentors: &[crate::service::children::MentorAssignmentView],
    ) -> Self {
        CareTeam {
            resource_type: "CareTeam",
            id: child.id.to_string(),
            status: if child.left_on.is_none() {
                "active"
            } else {
                "inactive"
            },
            name: "mentoren".into(),
            subject: Reference {
                reference: format!("Patient/{}", child.id),
            },
            participant: mentors
                .iter()
                .map(|m| CareTeamParticipant {
                    role: vec![concept(STAFF_ROLE_SYSTEM, "mentor")],
                    member: Reference {
                        reference: format!("PractitionerRole/{}", m.staff_id),
                    },
                    period: Period {
                        start: instant(m.assigned_at),
                        end: m.ended_at.map(instant),
                    },
                })
                .collect(),
            managing_organization: vec![Reference {
                reference: format!("Organization/{}", child.organization_id),
            }],
        }
    }
}

// ---------------------------------------------------------------- the access log

/// Kindbrug's purposes of an access (`child_record`, `consultation`, `audit_review`, …).
pub const ACCESS_PURPOSE_SYSTEM: &str = "https://kindbrug.nl/fhir/CodeSystem/access-purpose";
/// Kindbrug's own kinds of record an access touched (`consultation`, `visit`, …), as the
/// identifier system of an AuditEvent entity: `urn:kindbrug:record:{kind}`.
pub fn record_system(kind: &str) -> String {
    format!("urn:kindbrug:record:{kind}")
}

#[derive(Serialize)]
pub struct AgentWho {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
}

#[derive(Serialize)]
pub struct AuditAgent {
    pub role: Vec<TextOnly>,
    pub who: AgentWho,
    pub requestor: bool,
}

#[derive(Serialize)]
pub struct AuditSource {
    pub observer: DisplayOnly,
}

#[derive(Serialize)]
pub struct AuditEntity {
    pub what: AgentWho,
    #[serde(rename = "type")]
    pub kind: Coding,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Coding>,
}

/// One entry of the access log (NEN 7513), shaped like IHE BALP's PatientRead and
/// PatientQuery: the REST interaction, who (by login, and the staff record), which child and
/// which record, the purpose, and whether it was refused. Ids only: never child data.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub resource_type: &'static str,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Coding,
    pub subtype: Vec<Coding>,
    pub action: &'static str,
    pub recorded: String,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome_desc: Option<String>,
    pub purpose_of_event: Vec<CodeableConceptOf>,
    pub agent: Vec<AuditAgent>,
    pub source: AuditSource,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entity: Vec<AuditEntity>,
}

impl From<&crate::service::audit::AuditEntryView> for AuditEvent {
    fn from(e: &crate::service::audit::AuditEntryView) -> Self {
        const INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
        const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
        const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
        let (code, action) = match e.action.as_str() {
            "create" => ("create", "C"),
            "update" => ("update", "U"),
            "delete" => ("delete", "D"),
            "search" => ("search-type", "E"),
            "export" | "transfer" => ("read", "E"),
            _ => ("read", "R"),
        };
        let mut entity = Vec::new();
        if let Some(child) = e.child_id {
            entity.push(AuditEntity {
                what: AgentWho {
                    reference: Some(format!("Patient/{child}")),
                    identifier: None,
                },
                kind: Coding {
                    system: ENTITY_TYPE,
                    code: "1",
                    display: "Person",
                },
                role: Some(Coding {
                    system: OBJECT_ROLE,
                    code: "1",
                    display: "Patient",
                }),
            });
        }
        if let Some(id) = e.resource_id {
            entity.push(AuditEntity {
                what: AgentWho {
                    reference: None,
                    identifier: Some(Identifier {
                        system: record_system(&e.resource_type),
                        value: id.to_string(),
                    }),
                },
                kind: Coding {
                    system: ENTITY_TYPE,
                    code: "2",
                    display: "System Object",
                },
                role: None,
            });
        }
        AuditEvent {
            resource_type: "AuditEvent",
            id: e.id.to_string(),
            kind: Coding {
                system: "http://terminology.hl7.org/CodeSystem/audit-event-type",
                code: "rest",
                display: "RESTful Operation",
            },
            subtype: vec![Coding {
                system: INTERACTION,
                code,
                display: code,
            }],
            action,
            recorded: instant(e.occurred_at),
            outcome: if e.outcome == "success" { "0" } else { "4" },
            outcome_desc: (e.outcome != "success").then(|| e.outcome.clone()),
            purpose_of_event: vec![concept(ACCESS_PURPOSE_SYSTEM, &e.purpose)],
            agent: vec![AuditAgent {
                role: vec![TextOnly {
                    text: e.actor.role.clone(),
                }],
                who: match e.actor.staff_id {
                    Some(staff) => AgentWho {
                        reference: Some(format!("PractitionerRole/{staff}")),
                        identifier: Some(Identifier {
                            system: e.actor.issuer.clone(),
                            value: e.actor.subject.clone(),
                        }),
                    },
                    None => AgentWho {
                        reference: None,
                        identifier: Some(Identifier {
                            system: e.actor.issuer.clone(),
                            value: e.actor.subject.clone(),
                        }),
                    },
                },
                requestor: true,
            }],
            source: AuditSource {
                observer: DisplayOnly {
                    display: "Kindbrug".into(),
                },
            },
            entity,
        }
    }
}

// ---------------------------------------------------------------- subscriptions

/// The public key (`whpk_…`) that verifies a Subscription's signed notifications, on the
/// answer to its creation.
pub const SIGNING_KEY_EXTENSION: &str =
    "https://kindbrug.nl/fhir/StructureDefinition/notification-signing-key";

#[derive(Serialize)]
pub struct Channel {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub endpoint: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StringExtension {
    pub url: &'static str,
    pub value_string: String,
}

/// A rest-hook Subscription with an empty payload: a signed POST without a body when something
/// the organisation hears of changes; the receiver reads it with its own token.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub resource_type: &'static str,
    pub id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<StringExtension>,
    pub status: &'static str,
    pub reason: String,
    pub criteria: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub channel: Channel,
}

impl From<&crate::service::webhooks::EndpointView> for Subscription {
    fn from(e: &crate::service::webhooks::EndpointView) -> Self {
        let s = e
            .subscription
            .clone()
            .unwrap_or(crate::service::webhooks::SubscriptionView {
                criteria: String::new(),
                reason: None,
            });
        Subscription {
            resource_type: "Subscription",
            id: e.id.to_string(),
            extension: Vec::new(),
            // disabled by the organisation: off; by the relay (the receiver is gone): error
            status: match (e.status.as_str(), e.disabled_reason.as_deref()) {
                ("active", _) => "active",
                (_, Some("disabled by the organisation")) | (_, None) => "off",
                _ => "error",
            },
            reason: s.reason.unwrap_or_else(|| "meldingen van Kindbrug".into()),
            criteria: s.criteria,
            error: e.disabled_reason.clone(),
            channel: Channel {
                kind: "rest-hook",
                endpoint: e.url.clone(),
            },
        }
    }
}

// ---------------------------------------------------------------- coaching visits

/// The kind of a coaching visit (`observation`, `staff_coaching`, …), as `Encounter.type`.
pub const VISIT_KIND_SYSTEM: &str = "https://kindbrug.nl/fhir/CodeSystem/visit-kind";
/// Who took part in a visit, by role, as `Encounter.participant.type` (never a name).
pub const PARTICIPANT_SYSTEM: &str = "https://kindbrug.nl/fhir/CodeSystem/visit-participant";
/// A core competence the coaching worked on, as an extension of the Encounter.
pub const COMPETENCE_EXTENSION: &str =
    "https://kindbrug.nl/fhir/StructureDefinition/core-competence";
pub const COMPETENCE_SYSTEM: &str = "https://kindbrug.nl/fhir/CodeSystem/core-competence";
pub const ACT_CODE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const PARTICIPATION_TYPE_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
pub const UCUM: &str = "http://unitsofmeasure.org";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodingExtension {
    pub url: &'static str,
    pub value_coding: CodingOf,
}

#[derive(Serialize)]
pub struct EncounterParticipant {
    #[serde(rename = "type")]
    pub kind: Vec<CodeableConceptOf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub individual: Option<Reference>,
}

#[derive(Serialize)]
pub struct Duration {
    pub value: i64,
    pub unit: &'static str,
    pub system: &'static str,
    pub code: &'static str,
}

/// A coaching visit on the group, based on the consultation request. The specialist's sealed
/// notes and the advice are not part of it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Encounter {
    pub resource_type: &'static str,
    pub id: String,
    pub meta: Meta,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<CodingExtension>,
    pub status: &'static str,
    pub class: Coding,
    #[serde(rename = "type")]
    pub kind: Vec<CodeableConceptOf>,
    pub subject: Reference,
    pub based_on: Vec<Reference>,
    pub participant: Vec<EncounterParticipant>,
    pub period: Period,
    pub length: Duration,
}

fn concept(system: &'static str, code: &str) -> CodeableConceptOf {
    CodeableConceptOf {
        coding: vec![CodingOf {
            system,
            code: code.into(),
            display: code.replace('_', " "),
        }],
        text: code.replace('_', " "),
    }
}

/// The FHIR status of a visit: a held visit is `finished`.
pub fn encounter_status(s: crate::domain::consultation::VisitStatus) -> &'static str {
    use crate::domain::consultation::VisitStatus as V;
    match s {
        V::Planned => "planned",
        V::Held => "finished",
        V::Cancelled => "cancelled",
    }
}

/// A visit on location is `FLD` (field), a remote one `VR` (virtual).
pub fn encounter_class(kind: crate::domain::consultation::VisitKind) -> Coding {
    if kind == crate::domain::consultation::VisitKind::Remote {
        Coding {
            system: ACT_CODE_SYSTEM,
            code: "VR",
            display: "virtual",
        }
    } else {
        Coding {
            system: ACT_CODE_SYSTEM,
            code: "FLD",
            display: "field",
        }
    }
}

impl From<&crate::service::visits::VisitView> for Encounter {
    fn from(v: &crate::service::visits::VisitView) -> Self {
        let mut participant = vec![EncounterParticipant {
            kind: vec![CodeableConceptOf {
                coding: vec![CodingOf {
                    system: PARTICIPATION_TYPE_SYSTEM,
                    code: "PPRF".into(),
                    display: "primary performer".into(),
                }],
                text: "jeugdhulpspecialist".into(),
            }],
            individual: Some(Reference {
                reference: format!("PractitionerRole/{}", v.specialist_id),
            }),
        }];
        participant.extend(v.participants.iter().map(|p| EncounterParticipant {
            kind: vec![concept(PARTICIPANT_SYSTEM, p.as_str())],
            individual: None,
        }));
        Encounter {
            resource_type: "Encounter",
            id: v.id.to_string(),
            meta: Meta {
                version_id: v.version.to_string(),
                last_updated: instant(v.updated_at),
            },
            extension: v
                .competences
                .iter()
                .map(|c| CodingExtension {
                    url: COMPETENCE_EXTENSION,
                    value_coding: CodingOf {
                        system: COMPETENCE_SYSTEM,
                        code: c.as_str().into(),
                        display: c.as_str().replace('_', " "),
                    },
                })
                .collect(),
            status: encounter_status(v.status),
            class: encounter_class(v.kind),
            kind: vec![concept(VISIT_KIND_SYSTEM, v.kind.as_str())],
            subject: Reference {
                reference: format!("Patient/{}", v.child_id),
            },
            based_on: vec![Reference {
                reference: format!("ServiceRequest/{}", v.consultation_id),
            }],
            participant,
            period: Period {
                start: v.date.to_string(),
                end: None,
            },
            length: Duration {
                value: v.duration_minutes,
                unit: "min",
                system: UCUM,
                code: "min",
            },
        }
    }
}

#[derive(Serialize)]
pub struct BundleLink {
    pub relation: &'static str,
    pub url: String,
}

#[derive(Serialize)]
pub struct Search {
    pub mode: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEntry<R: Serialize> {
    pub full_url: String,
    pub resource: R,
    pub search: Search,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle<R: Serialize> {
    pub resource_type: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub link: Vec<BundleLink>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<BundleEntry<R>>,
}

#[derive(Serialize)]
pub struct Issue {
    pub severity: &'static str,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationOutcome {
    pub resource_type: &'static str,
    pub issue: Vec<Issue>,
}

/// The CapabilityStatement: exactly the interactions and search parameters that work.
pub fn capability_statement(public_base: &str) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-01",
        "publisher": "Kindbrug",
        "kind": "instance",
        "software": {"name": "Kindbrug", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {
            "description": "Kindbrug: the gateway between childcare and youth care",
            "url": format!("{public_base}/fhir/r4")
        },
        "fhirVersion": super::FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Bearer tokens acting as the organisation's integration: SMART Backend Services access tokens (limited by their scopes), or tokens of a configured issuer (the same as for /api/v1). Every read is checked against the caller's organisation and written to the access log.",
            "security": {
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [{
                        "url": "token",
                        "valueUri": format!("{public_base}/oauth2/token")
                    }]
                }],
                "cors": false,
                "service": [{
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR"
                    }]
                }, {
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "OAuth"
                    }]
                }],
                "description": "SMART Backend Services (client_credentials with a private_key_jwt assertion signed RS384, ES384 or RS512; see .well-known/smart-configuration), or OAuth 2.0 bearer tokens (JWT) of a configured issuer"
            },
            "resource": capability_resources()
        }]
    })
}

/// The resources of the CapabilityStatement, each as its own value (one `json!` for all of
/// them is deeper than the macro's recursion allows).
fn capability_resources() -> Vec<serde_json::Value> {
    vec![
        serde_json::json!({
                "type": "Organization",
                "interaction": [{"code": "read"}],
                "documentation": "Your own organisation (and, for an admin, any)"
        }),
        serde_json::json!({
                "type": "Location",
                "interaction": [{"code": "read"}],
                "documentation": "The locations of your own organisation; identifier: the LRK registration number"
        }),
        serde_json::json!({
                "type": "RelatedPerson",
                "interaction": [{"code": "search-type"}],
                "documentation": "The parents and guardians of a child whose record you keep; parental authority (gezag) and its source as extensions",
                "searchParam": [
                    {"name": "patient", "type": "reference", "documentation": "required: Patient/{id} or {id}"}
                ]
        }),
        serde_json::json!({
                "type": "Consent",
                "versioning": "versioned",
                "readHistory": true,
                "interaction": [{"code": "read"}, {"code": "vread", "documentation": "version 1 as recorded (active, or rejected for a refusal), version 2 once it stopped counting (inactive: withdrawn or superseded); records change in no other way"}, {"code": "history-instance"}, {"code": "search-type"}, {"code": "create", "documentation": "records a decision the childcare organisation took in: status active (permit) or rejected (deny), the performers (RelatedPerson or the Patient), one purpose, the recipient Organization, the period, and as extensions the method and the information version (and, for a child of 12 or older judged not competent, child-not-competent with judgedBy, judgedOn and reason; the reason is never given out); an unknown extension is refused; the Dutch rules decide who must consent"}],
                "documentation": "The consent records of a child whose record you keep; withdrawn and superseded records are inactive, refusals rejected",
                "searchParam": [
                    {"name": "patient", "type": "reference", "documentation": "required: Patient/{id} or {id}"}
                ]
        }),
        serde_json::json!({
                "type": "Task",
                "interaction": [{"code": "read"}, {"code": "vread", "documentation": "the current version only: earlier states of a request are not kept (its course is in the request's timeline)"}, {"code": "search-type"}, {"code": "update", "documentation": "status changes only, with If-Match: the owner accepts or rejects an offer, a coordinator rejects an unassigned request, the requester cancels"}],
                "updateCreate": false,
                "documentation": "Where a consultation request stands: status, businessStatus (Kindbrug's own status, e.g. offered or unassigned), owner, and the outcome as output. The same requests the JSON API lists for the caller, consent applied.",
                "versioning": "versioned",
                "readHistory": false,
                "searchInclude": ["Task:focus", "Task:patient"],
                "searchParam": [
                    {"name": "_id", "type": "token"},
                    {"name": "patient", "type": "reference", "documentation": "Patient/{id} or {id}"},
                    {"name": "subject", "type": "reference", "documentation": "the same as patient"},
                    {"name": "status", "type": "token", "documentation": "Task statuses, a,b for either"},
                    {"name": "owner", "type": "reference", "documentation": "PractitionerRole/{id}"},
                    {"name": "_lastUpdated", "type": "date", "documentation": "ge{date} and lt{date}; these narrow each page, which may then hold fewer than _count (the next link goes on)"}
                ]
        }),
        serde_json::json!({
                "type": "ServiceRequest",
                "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create", "documentation": "a childcare system opens a consultation request: status active, intent order, priority routine or urgent, the subject Patient, the mentor's concern as reasonReference (Observation/{concern}-{domain}), the expertise as performerType, the child's question as the one note; the consent in force decides (422 names who still must consent), and the request is routed at once: its Task has the same id. requester, authoredOn, locationReference and code are set by the server (what a client sends there is not used). When the question seems to hold a BSN, the answer is an OperationOutcome with the warning (the request is made; Location says where) unless Prefer: return=representation"}],
                "conditionalCreate": true,
                "extension": [{"url": "https://kindbrug.nl/fhir/StructureDefinition/conditional-create-note", "valueString": "If-None-Exist takes identifier=system|value only, kept per caller (the same login): a repeat answers 200 with the request the first one made, the same identifier with another request 412; the identifier is not shown on the ServiceRequest and cannot be searched"}],
                "documentation": "The consultation request: the child, the expertise asked for, the urgency, and the question for those the workflow shows it to",
                "versioning": "versioned",
                "readHistory": false,
                "searchInclude": ["ServiceRequest:subject", "ServiceRequest:patient"],
                "searchParam": [
                    {"name": "_id", "type": "token"},
                    {"name": "patient", "type": "reference", "documentation": "Patient/{id} or {id}"},
                    {"name": "subject", "type": "reference", "documentation": "the same as patient"},
                    {"name": "status", "type": "token", "documentation": "ServiceRequest statuses, a,b for either"},
                    {"name": "_lastUpdated", "type": "date", "documentation": "ge{date} and lt{date}"}
                ]
        }),
        serde_json::json!({
                "type": "Encounter",
                "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create", "documentation": "the assigned specialist logs a coaching visit: status planned, finished (held) or cancelled, class FLD or VR, the kind as type, basedOn the ServiceRequest, the date as period.start, the length in minutes, participants by role, the core competences as extensions; the first held visit starts the work"}],
                "documentation": "Coaching visits on the group, for the specialist who logged them and the child's mentors; the specialist's notes are not part of it",
                "versioning": "versioned",
                "readHistory": false,
                "searchParam": [
                    {"name": "_id", "type": "token"},
                    {"name": "based-on", "type": "reference", "documentation": "ServiceRequest/{id}"},
                    {"name": "patient", "type": "reference", "documentation": "Patient/{id} or {id}"},
                    {"name": "subject", "type": "reference", "documentation": "the same as patient"}
                ]
        }),
        serde_json::json!({
                "type": "Observation",
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "documentation": "A mentor's concern, one Observation per developmental domain (category concern; for those who keep the child's record), and how a closed request ended for the child (category consultation-outcome; referenced from Task.output)",
                "searchParam": [
                    {"name": "_id", "type": "token"},
                    {"name": "patient", "type": "reference", "documentation": "Patient/{id} or {id}"},
                    {"name": "subject", "type": "reference", "documentation": "the same as patient"},
                    {"name": "category", "type": "token", "documentation": "concern or consultation-outcome"},
                    {"name": "based-on", "type": "reference", "documentation": "ServiceRequest/{id}: its outcome"}
                ]
        }),
        serde_json::json!({
                "type": "PractitionerRole",
                "interaction": [{"code": "read"}],
                "documentation": "A staff member's professional role: a specialist's (the owner of a Task) for every partner, anyone else's within the organisation; expertise as specialty, never the login or the capacity"
        }),
        serde_json::json!({
                "type": "HealthcareService",
                "interaction": [{"code": "read"}],
                "documentation": "What a youth-care provider offers through Kindbrug (its id is the organisation's): the expertise of its active specialists as specialty, the regions (jeugdregio, by code) as coverageArea"
        }),
        serde_json::json!({
                "type": "Group",
                "interaction": [{"code": "read"}],
                "documentation": "A group of a location, for those who work there; its location as an extension; the children are not listed"
        }),
        serde_json::json!({
                "type": "CareTeam",
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "documentation": "The child's mentors now and before, each with the period (its id is the child's), for those who keep the child's record",
                "searchParam": [
                    {"name": "patient", "type": "reference", "documentation": "required: Patient/{id} or {id}"},
                    {"name": "subject", "type": "reference", "documentation": "the same as patient"}
                ]
        }),
        serde_json::json!({
                "type": "AuditEvent",
                "interaction": [{"code": "search-type"}],
                "documentation": "The access log (NEN 7513) for an admin, oldest first, shaped like IHE BALP PatientRead and PatientQuery: the interaction, who, the child, the record, the purpose, refused or not; ids only. Each search is logged itself.",
                "searchParam": [
                    {"name": "patient", "type": "reference", "documentation": "Patient/{id} or {id}"},
                    {"name": "date", "type": "date", "documentation": "ge{date} and lt{date}, each at most once"}
                ]
        }),
        serde_json::json!({
                "type": "Subscription",
                "interaction": [{"code": "create", "documentation": "status requested, a reason, criteria Task (the consultation requests the organisation hears of) or Consent (withdrawals), channel rest-hook with an endpoint and no payload: notifications are a signed POST with an empty body (webhook-id, webhook-timestamp, webhook-signature; Ed25519, the key in the answer's extension), retried as every webhook; read what changed with your own token"}, {"code": "read"}, {"code": "delete"}],
                "documentation": "Rest-hook Subscriptions with an empty payload (as Koppeltaal does), for the caller's own organisation"
        }),
        serde_json::json!({
                "type": "Patient",
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "versioned",
                "readHistory": false,
                "searchParam": [
                    {"name": "_id", "type": "token"},
                    {"name": "identifier", "type": "token", "documentation": "system|value: the organisation's own child number (urn:kindbrug:organization:{id}:child)"}
                ]
        }),
    ]
}
