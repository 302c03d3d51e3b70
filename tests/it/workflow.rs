//! The workflow layer tested without a door: operations called with a `Caller` and typed input,
//! answering typed results or a `ServiceError` with a stable code. The rules of submission,
//! routing, transitions by role, withdrawal and visibility hold here, so each door (the JSON
//! API, the web UI, FHIR) only has to show that it maps them. The world is set up over HTTP.

use crate::common::*;
use crate::consultations::{ctx, specialist, Ctx as World};
use crate::db_test;
use kindbrug::auth::Principal;
use kindbrug::domain::consultation::{ConsultationStatus, Urgency};
use kindbrug::domain::types::{ConcernDomain, Role};
use kindbrug::service::consent::{GiverDto, WithdrawRequest};
use kindbrug::service::consultations::{self as work, NewConsultation, Submitted};
use kindbrug::service::{Caller, ServiceError};
use uuid::Uuid;

/// The caller a verified token of `subject` in `org` with `role` would give.
async fn caller(app: &TestApp, subject: &str, role: Role, org: Uuid) -> Caller {
    let staff = app
        .state
        .store
        .staff_by_subject(org, subject)
        .await
        .unwrap();
    Caller::Principal(Principal {
        issuer: "kindbrug-dev".into(),
        subject: subject.into(),
        roles: vec![role],
        organization_id: Some(org),
        staff,
        scopes: None,
    })
}

fn question(c: &World) -> NewConsultation {
    NewConsultation {
        child_id: c.w.child_a1,
        concern_id: c.concern,
        question: "Hoe kan Noor meer meedoen in de groep?".into(),
        expertise: ConcernDomain::Language,
        urgency: Urgency::Normal,
    }
}

/// The stable code an operation refused with (`"done"` when it did not refuse).
fn refused<T>(r: Result<T, ServiceError>) -> &'static str {
    match r {
        Ok(_) => "done",
        Err(e) => e.code(),
    }
}

db_test!(
    async fn submission_routes_and_only_the_offered_specialist_sees_the_question_after_accepting(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let mentor = caller(&app, "mentor-a1", Role::Mentor, w.org_a).await;
        let spec = caller(&app, "spec-1", Role::Specialist, w.youth).await;
        let Submitted::Created(s) = work::submit(&app.state, &mentor, question(&c), None).await.unwrap() else {
            panic!("a first submission is created");
        };
        assert_eq!(s.status, ConsultationStatus::Offered);
        assert_eq!(s.offered_to, Some(c.spec_1));
        // offered: the specialist sees that there is a question, not the question
        let seen = work::get_consultation(&app.state, &spec, s.id).await.unwrap();
        assert!(seen.question.is_none());
        // a mentor cannot accept; another specialist of the provider does not even see it
        assert_eq!(refused(work::accept(&app.state, &mentor, s.id).await), "forbidden");
        let (_, _) = specialist(&app, w.youth, "spec-2", &["language"], &["JZ22"], 3).await;
        let other = caller(&app, "spec-2", Role::Specialist, w.youth).await;
        assert_eq!(refused(work::get_consultation(&app.state, &other, s.id).await), "not-found");
        let accepted = work::accept(&app.state, &spec, s.id).await.unwrap();
        assert_eq!(accepted.status, ConsultationStatus::Accepted);
        assert_eq!(accepted.question.as_deref(), Some("Hoe kan Noor meer meedoen in de groep?"));
        // accepted twice: an illegal transition, naming where it stands
        assert_eq!(refused(work::accept(&app.state, &spec, s.id).await), "illegal-transition");
    }
);

db_test!(
    async fn without_consent_nothing_is_submitted_and_the_mentor_learns_who_must_consent(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let mentor = caller(&app, "mentor-a1", Role::Mentor, w.org_a).await;
        // Eva withdraws: the one consent in force ends, for both parents' shared record
        let withdraw = WithdrawRequest { by: GiverDto { guardian_id: Some(c.eva), child: None }, reason: None };
        kindbrug::service::consent::withdraw_consent(&app.state, &mentor, c.consent, withdraw).await.unwrap();
        let before = app.count("consultations").await;
        match work::submit(&app.state, &mentor, question(&c), None).await {
            Err(ServiceError::Conflict { code, missing, .. }) => {
                assert_eq!(code, "consent-required");
                let missing = missing.expect("the mentor may know who must consent");
                assert!(!missing.is_empty());
            }
            other => panic!("expected consent-required, got {:?}", other.map(|_| ())),
        }
        assert_eq!(app.count("consultations").await, before, "nothing written");
    }
);

db_test!(
    async fn a_withdrawal_holds_the_request_shuts_the_specialist_out_and_it_can_still_end(app) {
        let c = ctx(&app).await;
        let w = &c.w;
        let mentor = caller(&app, "mentor-a1", Role::Mentor, w.org_a).await;
        let spec = caller(&app, "spec-1", Role::Specialist, w.youth).await;
        let Submitted::Created(s) = work::submit(&app.state, &mentor, question(&c), None).await.unwrap() else {
            panic!("created");
        };
        work::accept(&app.state, &spec, s.id).await.unwrap();
        let withdraw = WithdrawRequest { by: GiverDto { guardian_id: Some(c.tom), child: None }, reason: Some("we willen het zelf proberen".into()) };
        kindbrug::service::consent::withdraw_consent(&app.state, &mentor, c.consent, withdraw).await.unwrap();
        let held = work::get_consultation(&app.state, &mentor, s.id).await.unwrap();
        assert_eq!(held.status, ConsultationStatus::OnHold);
        // the specialist reads nothing more of it
        assert!(work::get_consultation(&app.state, &spec, s.id).await.is_err());
        // the mentor can still end it, which frees the specialist's slot
        let reason = work::ReasonBody { reason: "ouders trokken toestemming in".into() };
        let cancelled = work::cancel(&app.state, &mentor, s.id, reason).await.unwrap();
        assert_eq!(cancelled.status, ConsultationStatus::Cancelled);
    }
);

db_test!(
    async fn the_demo_is_loaded_through_the_workflow_once(app) {
        let ids = kindbrug::demo::load(&app.state).await.unwrap();
        assert_eq!(ids.children.len(), 8);
        let after_first = app.snapshot().await;
        // the registry and the children went through the operations: each child's creation, its
        // mentor and its guardians are in the access log under the loader's name
        let pool = app.raw_pool().await;
        let logged: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE actor_subject = 'demo-loader' AND resource_type = 'child' AND action = 'create'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        assert_eq!(logged, 8, "one creation entry per child");
        let again = kindbrug::demo::load(&app.state).await.unwrap();
        assert_eq!(again.children, ids.children);
        assert_eq!(app.snapshot().await, after_first, "a second load adds nothing");
        assert!(kindbrug::audit::verify::verify_store(app.state.store.as_ref()).await.unwrap().is_ok());
    }
);
