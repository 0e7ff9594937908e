//! The storage conformance suite: every test runs against SQLite (in a fresh temporary
//! directory) and PostgreSQL (in a fresh database, dropped afterwards), so the one set of SQL
//! in `natter_store` is proven on both backends.
//!
//! PostgreSQL is reached at `postgres://postgres@127.0.0.1:5432/postgres` unless
//! `NATTER_TEST_POSTGRES_URL` says otherwise. It is required: when it is unreachable the
//! tests fail rather than skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use natter_core::ErrorCode;
use natter_core::ids::{AccountId, ConversationId, EventId, MessageId, WorkspaceId};
use natter_core::model::{
    Account, AccountKind, Conversation, ConversationKind, IdentityState, Message, MessageFormat,
    MessageKind, Participant, ParticipantRole, Reaction, StaffRole, Visibility,
};
use natter_core::protocol::EventPayload;
use natter_core::time::now_millis;
use natter_store::{
    Backend, Committed, CommittedEvent, Cursor, EventRecord, Head, HistoryQuery, NewContact,
    NewConversation, NewMessage, NewParticipant, NewStaff, PostOutcome, Store, StoreError,
    StoreOptions,
};
use sqlx::{Connection, Executor};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn options(url: String) -> StoreOptions {
    StoreOptions {
        url,
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
        sqlite_synchronous: "full".to_string(),
        sqlite_mmap_bytes: 64 << 20,
    }
}

/// A database name no other test (or test process) uses.
fn unique_database_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // The low 64 bits of the clock are what changes between runs.
    let nanos = nanos as u64;
    format!("natter_test_{:08x}{nanos:016x}{n:04x}", std::process::id())
}

/// `url` with its database (path) replaced by `database`, keeping any query string.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{database}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs `body` as its own task so that a panic (a failed assertion) is caught and the
/// database can still be cleaned up.
async fn run_body<F, Fut>(body: &F, store: Store) -> Result<(), String>
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match tokio::spawn(body(store)).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_panic() => Err(panic_text(&*e.into_panic())),
        Err(e) => Err(format!("test task failed: {e}")),
    }
}

async fn run_on_sqlite<F, Fut>(body: &F) -> Result<(), String>
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::TempDir::new().map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let url = format!("sqlite://{}/natter.db", dir.path().display());
    let store = Store::connect(&options(url.clone()))
        .await
        .map_err(|e| format!("cannot open {url}: {e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("migrations failed: {e}"))?;
    let outcome = run_body(body, store.clone()).await;
    store.close().await;
    drop(dir);
    outcome
}

async fn run_on_postgres<F, Fut>(body: &F) -> Result<(), String>
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    sqlx::any::install_default_drivers();
    let admin_url = std::env::var("NATTER_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_string());
    let mut admin = sqlx::AnyConnection::connect(&admin_url)
        .await
        .map_err(|e| {
            format!(
                "PostgreSQL is unreachable at {admin_url} ({e}); the conformance suite needs it \
                 (set NATTER_TEST_POSTGRES_URL to point elsewhere)"
            )
        })?;
    let database = unique_database_name();
    admin
        .execute(sqlx::AssertSqlSafe(format!("create database {database}")))
        .await
        .map_err(|e| format!("cannot create database {database}: {e}"))?;

    let outcome = async {
        let store = Store::connect(&options(with_database(&admin_url, &database)))
            .await
            .map_err(|e| format!("cannot open database {database}: {e}"))?;
        if let Err(e) = store.migrate().await {
            store.close().await;
            return Err(format!("migrations failed: {e}"));
        }
        let outcome = run_body(body, store.clone()).await;
        store.close().await;
        outcome
    }
    .await;

    let dropped = admin
        .execute(sqlx::AssertSqlSafe(format!(
            "drop database if exists {database} with (force)"
        )))
        .await;
    let _ = admin.close().await;
    match (outcome, dropped) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) => Err(format!("cannot drop database {database}: {e}")),
        (Ok(()), Ok(_)) => Ok(()),
    }
}

/// Runs `body` on SQLite, then on PostgreSQL, each with a fresh, migrated database, and fails
/// naming every backend on which it failed.
async fn on_both_backends<F, Fut>(body: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut failures = Vec::new();
    if let Err(e) = run_on_sqlite(&body).await {
        failures.push(format!("[sqlite] {e}"));
    }
    if let Err(e) = run_on_postgres(&body).await {
        failures.push(format!("[postgres] {e}"));
    }
    assert!(
        failures.is_empty(),
        "failed on {} backend(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The backend's name, for assertion messages.
fn on(store: &Store) -> &'static str {
    match store.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn assert_domain<T: std::fmt::Debug>(
    b: &str,
    result: Result<T, StoreError>,
    code: ErrorCode,
    what: &str,
) {
    match result {
        Err(StoreError::Domain(e)) if e.code == code => {}
        other => panic!("{b}: {what}: expected StoreError::Domain({code:?}), got {other:?}"),
    }
}

async fn staff(store: &Store, ws: WorkspaceId, email: &str, role: StaffRole) -> Account {
    store
        .create_staff(&NewStaff {
            workspace_id: ws,
            email: email.to_string(),
            name: Some(format!("Staff {email}")),
            role,
        })
        .await
        .unwrap_or_else(|e| panic!("{}: create_staff({email}): {e:?}", on(store)))
}

async fn contact(store: &Store, ws: WorkspaceId, external_id: &str) -> Account {
    store
        .upsert_contact(&NewContact {
            workspace_id: ws,
            external_id: Some(external_id.to_string()),
            name: Some(format!("Contact {external_id}")),
            email: None,
            verified: false,
        })
        .await
        .unwrap_or_else(|e| panic!("{}: upsert_contact({external_id}): {e:?}", on(store)))
}

fn member(account: &Account, role: ParticipantRole) -> NewParticipant {
    NewParticipant {
        account_id: account.id,
        role,
        visibility: Visibility::Full,
    }
}

async fn open_conversation(
    store: &Store,
    ws: WorkspaceId,
    participants: Vec<NewParticipant>,
) -> Committed<(Conversation, Vec<Participant>)> {
    store
        .create_conversation(&NewConversation {
            workspace_id: ws,
            kind: ConversationKind::Support,
            subject: Some("Help".to_string()),
            listing: None,
            website_id: None,
            participants,
        })
        .await
        .unwrap_or_else(|e| panic!("{}: create_conversation: {e:?}", on(store)))
}

/// A workspace with an agent, a contact and a support conversation between them.
struct Desk {
    ws: WorkspaceId,
    agent: Account,
    contact: Account,
    conv: ConversationId,
}

async fn desk(store: &Store) -> Desk {
    let ws = store.create_workspace("Acme").await.unwrap();
    let agent = staff(store, ws, "agent@acme.test", StaffRole::Agent).await;
    let contact = contact(store, ws, "customer-1").await;
    let created = open_conversation(
        store,
        ws,
        vec![
            member(&contact, ParticipantRole::Customer),
            member(&agent, ParticipantRole::Agent),
        ],
    )
    .await;
    Desk {
        ws,
        agent,
        contact,
        conv: created.value.0.id,
    }
}

fn new_message(
    conv: ConversationId,
    kind: MessageKind,
    body: &str,
    client_msg_id: Option<&str>,
) -> NewMessage {
    NewMessage {
        conversation_id: conv,
        client_msg_id: client_msg_id.map(str::to_string),
        kind,
        format: MessageFormat::Plain,
        body: body.to_string(),
    }
}

async fn post(
    store: &Store,
    sender: &Account,
    conv: ConversationId,
    body: &str,
) -> Committed<PostOutcome> {
    post_kind(store, sender, conv, MessageKind::Text, body).await
}

async fn post_kind(
    store: &Store,
    sender: &Account,
    conv: ConversationId,
    kind: MessageKind,
    body: &str,
) -> Committed<PostOutcome> {
    store
        .post_message(sender, &new_message(conv, kind, body, None))
        .await
        .unwrap_or_else(|e| panic!("{}: post_message({body:?}): {e:?}", on(store)))
}

async fn participation(
    store: &Store,
    ws: WorkspaceId,
    conv: ConversationId,
    a: &Account,
) -> Option<Participant> {
    store.conversation(ws, conv, a.id).await.unwrap().1
}

/// The whole visible history of `conv` for `viewer`.
async fn history(
    store: &Store,
    ws: WorkspaceId,
    conv: ConversationId,
    viewer: &Account,
) -> Vec<Message> {
    let me = participation(store, ws, conv, viewer).await;
    store
        .history(
            viewer,
            me.as_ref(),
            conv,
            HistoryQuery {
                before: None,
                after: None,
                limit: 1000,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{}: history: {e:?}", on(store)))
}

/// Everything in `account`'s stream after `after`.
async fn stream(store: &Store, account: &Account, after: i64) -> Vec<EventRecord> {
    store
        .events_after(account.id, account.is_staff(), EventId(after), 10_000)
        .await
        .unwrap_or_else(|e| panic!("{}: events_after: {e:?}", on(store)))
}

fn event_type(payload: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(payload).unwrap();
    value["type"].as_str().unwrap().to_string()
}

fn types(events: &[CommittedEvent]) -> Vec<String> {
    events.iter().map(|e| event_type(&e.payload)).collect()
}

fn record_types(records: &[EventRecord]) -> Vec<String> {
    records.iter().map(|e| event_type(&e.payload)).collect()
}

fn record_ids(records: &[EventRecord]) -> Vec<i64> {
    records.iter().map(|e| e.id.0).collect()
}

fn event_ids(events: &[CommittedEvent]) -> Vec<i64> {
    events.iter().map(|e| e.id.0).collect()
}

fn payload(event: &CommittedEvent) -> EventPayload {
    serde_json::from_str(&event.payload).unwrap()
}

fn sorted(mut ids: Vec<AccountId>) -> Vec<AccountId> {
    ids.sort();
    ids
}

fn recipients(event: &CommittedEvent) -> Vec<AccountId> {
    sorted(event.recipients.clone())
}

fn the_one(events: &[CommittedEvent], b: &str, what: &str) -> CommittedEvent {
    assert_eq!(
        events.len(),
        1,
        "{b}: {what} should emit exactly one event, got {:?}",
        types(events)
    );
    events[0].clone()
}

fn seqs(messages: &[Message]) -> Vec<i64> {
    messages.iter().map(|m| m.seq).collect()
}

/// Lets the millisecond clock move on, so timestamps taken before and after differ.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn migrations_run_again_change_nothing_and_keep_the_data() {
    on_both_backends(|store| async move {
        let b = on(&store);
        store.create_workspace("Spare").await.unwrap();
        let d = desk(&store).await;
        let head_before = store.head().await.unwrap();

        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("{b}: second migrate failed: {e:?}"));
        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("{b}: third migrate failed: {e:?}"));

        assert_eq!(
            store.count_workspaces().await.unwrap(),
            2,
            "{b}: workspaces after re-running migrations"
        );
        assert_eq!(
            store.head().await.unwrap(),
            head_before,
            "{b}: the event counter was reset by re-running migrations"
        );
        assert!(store.ping().await, "{b}: ping after migrations");
        let (conv, me) = store.conversation(d.ws, d.conv, d.agent.id).await.unwrap();
        assert_eq!(conv.id, d.conv, "{b}: conversation survives migrations");
        assert!(me.is_some(), "{b}: participation survives migrations");
        // The store still works normally.
        let posted = post(&store, &d.agent, d.conv, "still here").await;
        assert_eq!(
            posted.value.message.seq, 1,
            "{b}: first seq after migrations"
        );
        assert_eq!(
            posted.events[0].id.0,
            head_before.last_event_id.0 + 1,
            "{b}: event ids continue after migrations"
        );
    })
    .await;
}

#[tokio::test]
async fn a_secret_is_generated_once_and_then_read_back_unchanged() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let first = store
            .secret("contact_token_key", || vec![1, 2, 3, 0, 255])
            .await
            .unwrap();
        assert_eq!(
            first,
            vec![1, 2, 3, 0, 255],
            "{b}: first call stores the generated value"
        );
        let second = store
            .secret("contact_token_key", || vec![9, 9, 9])
            .await
            .unwrap();
        assert_eq!(second, first, "{b}: second call returns the stored value");
        let third = store.secret("contact_token_key", Vec::new).await.unwrap();
        assert_eq!(third, first, "{b}: third call returns the stored value");
        let other = store.secret("other", || vec![42; 32]).await.unwrap();
        assert_eq!(other, vec![42; 32], "{b}: a second name has its own value");
        assert_eq!(
            store.secret("contact_token_key", || vec![7]).await.unwrap(),
            first,
            "{b}: a second name does not disturb the first"
        );
    })
    .await;
}

#[tokio::test]
async fn a_staff_email_is_unique_within_a_workspace_but_not_across_workspaces() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws_a = store.create_workspace("A").await.unwrap();
        let ws_b = store.create_workspace("B").await.unwrap();
        let sam = store
            .create_staff(&NewStaff {
                workspace_id: ws_a,
                email: "sam@example.test".into(),
                name: Some("Sam".into()),
                role: StaffRole::Owner,
            })
            .await
            .unwrap();
        assert_eq!(sam.workspace_id, ws_a, "{b}: workspace");
        assert_eq!(sam.kind, AccountKind::Staff, "{b}: kind");
        assert_eq!(sam.role, Some(StaffRole::Owner), "{b}: role");
        assert_eq!(sam.identity, None, "{b}: staff have no identity state");
        assert_eq!(sam.email.as_deref(), Some("sam@example.test"), "{b}: email");
        assert_eq!(sam.name.as_deref(), Some("Sam"), "{b}: name");
        assert_eq!(
            store.account(sam.id).await.unwrap(),
            Some(sam.clone()),
            "{b}: account() reads back what create_staff returned"
        );

        let duplicate = store
            .create_staff(&NewStaff {
                workspace_id: ws_a,
                email: "sam@example.test".into(),
                name: None,
                role: StaffRole::Agent,
            })
            .await;
        assert_domain(b, duplicate, ErrorCode::Conflict, "duplicate staff email");

        let elsewhere = store
            .create_staff(&NewStaff {
                workspace_id: ws_b,
                email: "sam@example.test".into(),
                name: None,
                role: StaffRole::Agent,
            })
            .await
            .unwrap_or_else(|e| panic!("{b}: same email in another workspace: {e:?}"));
        assert_ne!(elsewhere.id, sam.id, "{b}: a distinct account");
        assert_eq!(elsewhere.workspace_id, ws_b, "{b}: in workspace B");
        assert_eq!(elsewhere.name, None, "{b}: no name given");

        // Contacts are not bound by the staff email rule.
        let contact = store
            .upsert_contact(&NewContact {
                workspace_id: ws_a,
                external_id: None,
                name: None,
                email: Some("sam@example.test".into()),
                verified: false,
            })
            .await
            .unwrap_or_else(|e| panic!("{b}: a contact with a staff email: {e:?}"));
        assert_eq!(contact.kind, AccountKind::Contact, "{b}: contact kind");

        // The conflict did not leave the store unusable.
        let other = staff(&store, ws_a, "other@example.test", StaffRole::Agent).await;
        assert_eq!(other.workspace_id, ws_a, "{b}: staff after a conflict");
    })
    .await;
}

#[tokio::test]
async fn upserting_a_contact_by_external_id_updates_it_in_place_and_sets_its_identity() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let other_ws = store.create_workspace("Other").await.unwrap();

        let ann = store
            .upsert_contact(&NewContact {
                workspace_id: ws,
                external_id: Some("user-1".into()),
                name: Some("Ann".into()),
                email: Some("ann@example.test".into()),
                verified: false,
            })
            .await
            .unwrap();
        assert_eq!(ann.kind, AccountKind::Contact, "{b}: kind");
        assert_eq!(ann.role, None, "{b}: contacts have no staff role");
        assert_eq!(
            ann.identity,
            Some(IdentityState::Identified),
            "{b}: identity"
        );
        assert_eq!(
            ann.external_id.as_deref(),
            Some("user-1"),
            "{b}: external id"
        );

        let renamed = store
            .upsert_contact(&NewContact {
                workspace_id: ws,
                external_id: Some("user-1".into()),
                name: Some("Annie".into()),
                email: None,
                verified: false,
            })
            .await
            .unwrap();
        assert_eq!(renamed.id, ann.id, "{b}: same external id, same account");
        assert_eq!(renamed.name.as_deref(), Some("Annie"), "{b}: name updated");
        assert_eq!(
            renamed.email.as_deref(),
            Some("ann@example.test"),
            "{b}: email not given is kept"
        );
        assert_eq!(renamed.created_at, ann.created_at, "{b}: created_at kept");

        let new_email = store
            .upsert_contact(&NewContact {
                workspace_id: ws,
                external_id: Some("user-1".into()),
                name: None,
                email: Some("annie@example.test".into()),
                verified: false,
            })
            .await
            .unwrap();
        assert_eq!(new_email.id, ann.id, "{b}: still the same account");
        assert_eq!(
            new_email.name.as_deref(),
            Some("Annie"),
            "{b}: name not given is kept"
        );
        assert_eq!(
            new_email.email.as_deref(),
            Some("annie@example.test"),
            "{b}: email updated"
        );
        assert_eq!(
            new_email.identity,
            Some(IdentityState::Identified),
            "{b}: still identified"
        );
        assert_eq!(
            store.account(ann.id).await.unwrap(),
            Some(new_email.clone()),
            "{b}: account() sees the updated row"
        );

        let same_id_elsewhere = store
            .upsert_contact(&NewContact {
                workspace_id: other_ws,
                external_id: Some("user-1".into()),
                name: Some("Other Ann".into()),
                email: None,
                verified: false,
            })
            .await
            .unwrap();
        assert_ne!(
            same_id_elsewhere.id, ann.id,
            "{b}: external ids are per workspace"
        );
        assert_eq!(
            store
                .account(ann.id)
                .await
                .unwrap()
                .unwrap()
                .name
                .as_deref(),
            Some("Annie"),
            "{b}: another workspace's upsert does not touch this contact"
        );

        let named = store
            .upsert_contact(&NewContact {
                workspace_id: ws,
                external_id: None,
                name: Some("Bob".into()),
                email: None,
                verified: false,
            })
            .await
            .unwrap();
        assert_eq!(
            named.identity,
            Some(IdentityState::Partial),
            "{b}: name only"
        );
        assert_eq!(named.external_id, None, "{b}: no external id");
        assert_eq!(named.name.as_deref(), Some("Bob"), "{b}: name stored");

        let emailed = store
            .upsert_contact(&NewContact {
                workspace_id: ws,
                external_id: None,
                name: None,
                email: Some("x@example.test".into()),
                verified: false,
            })
            .await
            .unwrap();
        assert_eq!(
            emailed.identity,
            Some(IdentityState::Partial),
            "{b}: email only"
        );

        let nobody = store
            .upsert_contact(&NewContact {
                workspace_id: ws,
                external_id: None,
                name: None,
                email: None,
                verified: false,
            })
            .await
            .unwrap();
        let nobody_again = store
            .upsert_contact(&NewContact {
                workspace_id: ws,
                external_id: None,
                name: None,
                email: None,
                verified: false,
            })
            .await
            .unwrap();
        assert_eq!(
            nobody.identity,
            Some(IdentityState::Anonymous),
            "{b}: anonymous"
        );
        assert_eq!(nobody.name, None, "{b}: anonymous has no name");
        assert_ne!(
            nobody.id, nobody_again.id,
            "{b}: contacts without an external id are never merged"
        );
    })
    .await;
}

#[tokio::test]
async fn an_api_token_finds_its_account_only_by_the_right_hash() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let sam = staff(&store, ws, "sam@acme.test", StaffRole::Admin).await;
        let kim = staff(&store, ws, "kim@acme.test", StaffRole::Agent).await;
        store
            .create_api_token(sam.id, "ci", &[7; 32], "read write admin")
            .await
            .unwrap();
        store
            .create_api_token(kim.id, "laptop", &[8; 32], "read")
            .await
            .unwrap();

        assert_eq!(
            store.account_by_token_hash(&[7; 32]).await.unwrap(),
            Some((sam.clone(), "read write admin".to_string())),
            "{b}: the right hash finds its account and scopes"
        );
        // A second lookup (last_used_at already fresh) answers the same.
        assert_eq!(
            store.account_by_token_hash(&[7; 32]).await.unwrap(),
            Some((sam.clone(), "read write admin".to_string())),
            "{b}: a repeated lookup finds the same account"
        );
        assert_eq!(
            store.account_by_token_hash(&[8; 32]).await.unwrap(),
            Some((kim, "read".to_string())),
            "{b}: another token finds its own account"
        );
        assert_eq!(
            store.account_by_token_hash(&[9; 32]).await.unwrap(),
            None,
            "{b}: an unknown hash finds nothing"
        );
        assert_eq!(
            store.account_by_token_hash(&[7; 31]).await.unwrap(),
            None,
            "{b}: a prefix of a hash finds nothing"
        );
    })
    .await;
}

#[tokio::test]
async fn creating_a_conversation_emits_its_creation_and_one_join_per_participant() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let agent = staff(&store, ws, "agent@acme.test", StaffRole::Agent).await;
        let customer = contact(&store, ws, "c-1").await;
        let bystander = contact(&store, ws, "c-2").await;
        let head_before = store.head().await.unwrap();
        assert_eq!(
            head_before,
            Head {
                last_event_id: EventId(0),
                pruned_through: EventId(0)
            },
            "{b}: a fresh log is empty"
        );

        let created = open_conversation(
            &store,
            ws,
            vec![
                member(&customer, ParticipantRole::Customer),
                member(&agent, ParticipantRole::Agent),
            ],
        )
        .await;
        let (conversation, participants) = &created.value;
        assert_eq!(conversation.workspace_id, ws, "{b}: workspace");
        assert_eq!(conversation.last_seq, 0, "{b}: no messages yet");
        assert_eq!(
            conversation.subject.as_deref(),
            Some("Help"),
            "{b}: subject"
        );
        assert_eq!(
            participants
                .iter()
                .map(|p| p.account_id)
                .collect::<Vec<_>>(),
            vec![customer.id, agent.id],
            "{b}: participants in the order given"
        );
        assert!(
            participants
                .iter()
                .all(|p| p.history_from_seq == 1 && p.left_at.is_none()),
            "{b}: full-history, active participants: {participants:?}"
        );

        let events = &created.events;
        assert_eq!(
            types(events),
            vec![
                "conversation_updated",
                "participant_joined",
                "participant_joined"
            ],
            "{b}: event types"
        );
        assert_eq!(
            event_ids(events),
            vec![
                head_before.last_event_id.0 + 1,
                head_before.last_event_id.0 + 2,
                head_before.last_event_id.0 + 3
            ],
            "{b}: consecutive event ids following the head"
        );
        for event in events {
            assert_eq!(
                event.conversation_id, conversation.id,
                "{b}: conversation id"
            );
            assert_eq!(
                recipients(event),
                sorted(vec![customer.id, agent.id]),
                "{b}: recipients of {} are the participants",
                event.payload
            );
            assert!(
                !event.recipients.contains(&bystander.id),
                "{b}: a non-participant receives nothing"
            );
        }
        match payload(&events[0]) {
            EventPayload::ConversationUpdated { conversation: c } => {
                assert_eq!(&c, conversation, "{b}: the created conversation");
            }
            other => panic!("{b}: unexpected first payload {other:?}"),
        }
        let joined: Vec<AccountId> = events[1..]
            .iter()
            .map(|e| match payload(e) {
                EventPayload::ParticipantJoined { participant } => participant.account_id,
                other => panic!("{b}: unexpected payload {other:?}"),
            })
            .collect();
        assert_eq!(joined, vec![customer.id, agent.id], "{b}: who joined");

        let head = store.head().await.unwrap();
        assert_eq!(
            head.last_event_id,
            events.last().unwrap().id,
            "{b}: head is the last event"
        );

        // Both participants replay exactly these events; the bystander nothing.
        for account in [&customer, &agent] {
            let replay = stream(&store, account, 0).await;
            assert_eq!(record_ids(&replay), event_ids(events), "{b}: replay ids");
            for (r, e) in replay.iter().zip(events) {
                assert_eq!(r.payload, &*e.payload, "{b}: replayed payload");
                assert_eq!(r.at, e.at, "{b}: replayed time");
            }
        }
        assert!(
            stream(&store, &bystander, 0).await.is_empty(),
            "{b}: a bystander's stream is empty"
        );
    })
    .await;
}

#[tokio::test]
async fn a_retried_client_msg_id_stores_one_message() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let first = post(&store, &d.contact, d.conv, "one").await;
        let second = store
            .post_message(
                &d.contact,
                &new_message(d.conv, MessageKind::Text, "two", Some("client-2")),
            )
            .await
            .unwrap();
        let third = post(&store, &d.agent, d.conv, "three").await;
        assert_eq!(
            [
                first.value.message.seq,
                second.value.message.seq,
                third.value.message.seq
            ],
            [1, 2, 3],
            "{b}: seqs are assigned 1, 2, 3"
        );
        assert!(
            !first.value.duplicate && !second.value.duplicate && !third.value.duplicate,
            "{b}: fresh posts are not duplicates"
        );
        assert_eq!(
            types(&second.events),
            vec!["message_created"],
            "{b}: one event"
        );
        assert_eq!(
            second.value.message.client_msg_id.as_deref(),
            Some("client-2"),
            "{b}: client_msg_id stored"
        );
        let head = store.head().await.unwrap();

        let retry = store
            .post_message(
                &d.contact,
                &new_message(d.conv, MessageKind::Text, "two, retried", Some("client-2")),
            )
            .await
            .unwrap();
        assert!(retry.value.duplicate, "{b}: the retry is a duplicate");
        assert_eq!(
            retry.value.message.id, second.value.message.id,
            "{b}: same message id"
        );
        assert_eq!(retry.value.message.seq, 2, "{b}: same seq");
        assert_eq!(
            retry.value.message.body, "two",
            "{b}: the stored body, not the retry's"
        );
        assert!(
            retry.events.is_empty(),
            "{b}: a retry emits no events: {:?}",
            types(&retry.events)
        );
        assert_eq!(
            store.head().await.unwrap(),
            head,
            "{b}: the log did not move"
        );

        let messages = history(&store, d.ws, d.conv, &d.agent).await;
        assert_eq!(seqs(&messages), vec![1, 2, 3], "{b}: history seqs");
        assert_eq!(
            messages
                .iter()
                .filter(|m| m.client_msg_id.as_deref() == Some("client-2"))
                .count(),
            1,
            "{b}: exactly one copy"
        );
        assert_eq!(messages[1], second.value.message, "{b}: stored as returned");
        let (conv, _) = store.conversation(d.ws, d.conv, d.agent.id).await.unwrap();
        assert_eq!(conv.last_seq, 3, "{b}: last_seq not bumped by the retry");

        // The key is per sender: the same key from someone else is a new message.
        let agents = store
            .post_message(
                &d.agent,
                &new_message(d.conv, MessageKind::Text, "agent's", Some("client-2")),
            )
            .await
            .unwrap();
        assert!(
            !agents.value.duplicate,
            "{b}: another sender's key is independent"
        );
        assert_eq!(agents.value.message.seq, 4, "{b}: next seq");
    })
    .await;
}

#[tokio::test]
async fn racing_retries_of_one_client_msg_id_store_one_message() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let head = store.head().await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            let sender = d.contact.clone();
            let conv = d.conv;
            tasks.push(tokio::spawn(async move {
                store
                    .post_message(
                        &sender,
                        &new_message(conv, MessageKind::Text, &format!("try {i}"), Some("same")),
                    )
                    .await
            }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(
                task.await
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{b}: a racing retry failed: {e:?}")),
            );
        }
        let ids: HashSet<MessageId> = outcomes.iter().map(|o| o.value.message.id).collect();
        assert_eq!(
            ids.len(),
            1,
            "{b}: every retry answers with one message: {ids:?}"
        );
        assert_eq!(
            outcomes.iter().filter(|o| !o.value.duplicate).count(),
            1,
            "{b}: exactly one retry stored it"
        );
        assert_eq!(
            outcomes.iter().map(|o| o.events.len()).sum::<usize>(),
            1,
            "{b}: exactly one event in total"
        );
        assert!(
            outcomes.iter().all(|o| o.value.message.seq == 1),
            "{b}: everyone sees seq 1"
        );
        let messages = history(&store, d.ws, d.conv, &d.agent).await;
        assert_eq!(seqs(&messages), vec![1], "{b}: one message stored");
        let (conv, _) = store.conversation(d.ws, d.conv, d.agent.id).await.unwrap();
        assert_eq!(conv.last_seq, 1, "{b}: losers' seqs rolled back");
        assert_eq!(
            store.head().await.unwrap().last_event_id.0,
            head.last_event_id.0 + 1,
            "{b}: the log grew by one"
        );
    })
    .await;
}

#[tokio::test]
async fn an_internal_note_reaches_staff_but_never_the_contact() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let hello = post(&store, &d.contact, d.conv, "hello").await;
        let note = post_kind(&store, &d.agent, d.conv, MessageKind::Note, "VIP customer").await;
        let reply = post(&store, &d.agent, d.conv, "hi!").await;
        assert_eq!(note.value.message.seq, 2, "{b}: notes take a seq");

        let note_event = the_one(&note.events, b, "a note");
        assert_eq!(
            event_type(&note_event.payload),
            "message_created",
            "{b}: type"
        );
        assert_eq!(
            note_event.recipients,
            vec![d.agent.id],
            "{b}: a note's recipients are staff only"
        );
        assert!(
            !note_event.recipients.contains(&d.contact.id),
            "{b}: the contact is not a recipient of the note"
        );
        assert_eq!(
            recipients(&reply.events[0]),
            sorted(vec![d.contact.id, d.agent.id]),
            "{b}: a text message reaches both"
        );

        let contact_stream = record_ids(&stream(&store, &d.contact, 0).await);
        assert!(
            !contact_stream.contains(&note_event.id.0),
            "{b}: the note is not in the contact's stream"
        );
        assert!(
            contact_stream.contains(&hello.events[0].id.0)
                && contact_stream.contains(&reply.events[0].id.0),
            "{b}: the contact's stream has the text messages"
        );
        let agent_stream = record_ids(&stream(&store, &d.agent, 0).await);
        assert!(
            agent_stream.contains(&note_event.id.0),
            "{b}: the note is in the agent's stream"
        );

        let contact_view = history(&store, d.ws, d.conv, &d.contact).await;
        assert_eq!(
            seqs(&contact_view),
            vec![1, 3],
            "{b}: the contact's history skips the note"
        );
        assert!(
            contact_view.iter().all(|m| m.kind != MessageKind::Note),
            "{b}: no notes for the contact"
        );
        let agent_view = history(&store, d.ws, d.conv, &d.agent).await;
        assert_eq!(seqs(&agent_view), vec![1, 2, 3], "{b}: staff see the note");
        assert_eq!(
            agent_view[1].kind,
            MessageKind::Note,
            "{b}: seq 2 is the note"
        );
        assert_eq!(agent_view[1].body, "VIP customer", "{b}: note body");

        // Editing the note is staff-only as well.
        let edited = store
            .edit_message(&d.agent, d.conv, note.value.message.id, "VIP!")
            .await
            .unwrap();
        let edit_event = the_one(&edited.events, b, "editing a note");
        assert_eq!(
            edit_event.recipients,
            vec![d.agent.id],
            "{b}: note edit recipients"
        );
        assert!(
            !record_ids(&stream(&store, &d.contact, 0).await).contains(&edit_event.id.0),
            "{b}: the note's edit is not in the contact's stream"
        );
        // A contact cannot reach the note by id either.
        assert_domain(
            b,
            store
                .react(&d.contact, d.conv, note.value.message.id, "👀", true, 10)
                .await,
            ErrorCode::NotFound,
            "a contact reacting to a note",
        );
    })
    .await;
}

#[tokio::test]
async fn only_participants_post_but_staff_of_the_workspace_join_by_posting() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let outsider = contact(&store, d.ws, "outsider").await;
        let head = store.head().await.unwrap();
        assert_domain(
            b,
            store
                .post_message(
                    &outsider,
                    &new_message(d.conv, MessageKind::Text, "hi", None),
                )
                .await,
            ErrorCode::NotFound,
            "a non-participant contact posting",
        );
        assert_eq!(store.head().await.unwrap(), head, "{b}: nothing was logged");

        let other_ws = store.create_workspace("Other").await.unwrap();
        let foreign_staff = staff(&store, other_ws, "x@other.test", StaffRole::Owner).await;
        assert_domain(
            b,
            store
                .post_message(
                    &foreign_staff,
                    &new_message(d.conv, MessageKind::Text, "hi", None),
                )
                .await,
            ErrorCode::NotFound,
            "staff of another workspace posting",
        );

        let lead = staff(&store, d.ws, "lead@acme.test", StaffRole::Admin).await;
        assert!(
            participation(&store, d.ws, d.conv, &lead).await.is_none(),
            "{b}: the lead is not a participant yet"
        );
        let posted = post(&store, &lead, d.conv, "I'll take this").await;
        assert_eq!(
            types(&posted.events),
            vec!["participant_joined", "message_created"],
            "{b}: joining then posting"
        );
        assert_eq!(
            event_ids(&posted.events),
            vec![head.last_event_id.0 + 1, head.last_event_id.0 + 2],
            "{b}: consecutive ids"
        );
        match payload(&posted.events[0]) {
            EventPayload::ParticipantJoined { participant } => {
                assert_eq!(participant.account_id, lead.id, "{b}: the lead joined");
                assert_eq!(participant.role, ParticipantRole::Agent, "{b}: as an agent");
                assert_eq!(
                    participant.visibility,
                    Visibility::Full,
                    "{b}: with full history"
                );
            }
            other => panic!("{b}: unexpected payload {other:?}"),
        }
        for event in &posted.events {
            assert_eq!(
                recipients(event),
                sorted(vec![d.contact.id, d.agent.id, lead.id]),
                "{b}: everyone, including the lead, receives {}",
                event.payload
            );
        }
        let me = participation(&store, d.ws, d.conv, &lead).await;
        assert!(
            me.as_ref()
                .is_some_and(|p| p.left_at.is_none() && p.role == ParticipantRole::Agent),
            "{b}: the lead is now an active agent participant: {me:?}"
        );
        assert_eq!(posted.value.message.seq, 1, "{b}: the message got seq 1");
        assert_eq!(
            record_ids(&stream(&store, &lead, 0).await),
            event_ids(&posted.events),
            "{b}: the lead's stream starts at its join"
        );
        // A second post does not join again.
        let again = post(&store, &lead, d.conv, "on it").await;
        assert_eq!(
            types(&again.events),
            vec!["message_created"],
            "{b}: no second join"
        );
    })
    .await;
}

#[tokio::test]
async fn events_after_returns_exactly_the_visible_events_after_a_cursor_and_pages() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let other = contact(&store, d.ws, "other").await;
        let mut all: Vec<CommittedEvent> = Vec::new();
        // The conversation between `d.contact` and `d.agent` was created by `desk`; replay
        // its events from the log to include them.
        let head0 = store.head().await.unwrap();
        let second = open_conversation(
            &store,
            d.ws,
            vec![
                member(&other, ParticipantRole::Customer),
                member(&d.agent, ParticipantRole::Agent),
            ],
        )
        .await;
        let conv2 = second.value.0.id;
        all.extend(second.events);
        for i in 0..3 {
            all.extend(
                post(&store, &d.contact, d.conv, &format!("a{i}"))
                    .await
                    .events,
            );
            all.extend(post(&store, &other, conv2, &format!("b{i}")).await.events);
        }
        all.extend(
            post_kind(&store, &d.agent, d.conv, MessageKind::Note, "n")
                .await
                .events,
        );
        let m = post(&store, &d.agent, d.conv, "reply").await;
        let m_id = m.value.message.id;
        all.extend(m.events);
        all.extend(
            store
                .react(&d.contact, d.conv, m_id, "👍", true, 10)
                .await
                .unwrap()
                .events,
        );
        all.extend(
            store
                .move_cursor(&d.contact, d.conv, Cursor::Read, 100)
                .await
                .unwrap()
                .events,
        );
        all.extend(post(&store, &other, conv2, "b-last").await.events);

        for account in [&d.contact, &d.agent, &other] {
            let big = stream(&store, account, head0.last_event_id.0).await;
            let expected: Vec<&CommittedEvent> = all
                .iter()
                .filter(|e| e.recipients.contains(&account.id))
                .collect();
            assert_eq!(
                record_ids(&big),
                expected.iter().map(|e| e.id.0).collect::<Vec<_>>(),
                "{b}: account {}'s replay matches the live recipients",
                account.id
            );
            for (r, e) in big.iter().zip(&expected) {
                assert_eq!(r.payload, &*e.payload, "{b}: payload of event {}", r.id);
                assert_eq!(r.at, e.at, "{b}: time of event {}", r.id);
            }
            assert!(
                big.windows(2).all(|w| w[0].id < w[1].id),
                "{b}: in increasing id order"
            );

            // Every cursor, including ids of events the account does not see.
            let head = store.head().await.unwrap().last_event_id.0;
            let full = stream(&store, account, 0).await;
            for cursor in 0..=head + 1 {
                let after = stream(&store, account, cursor).await;
                let want: Vec<EventRecord> =
                    full.iter().filter(|r| r.id.0 > cursor).cloned().collect();
                assert_eq!(after, want, "{b}: events after {cursor} for {}", account.id);
            }

            // Paging with limit 2 concatenates to the single big read.
            let mut paged = Vec::new();
            let mut cursor = EventId(0);
            let mut pages = 0;
            loop {
                let page = store
                    .events_after(account.id, account.is_staff(), cursor, 2)
                    .await
                    .unwrap();
                assert!(page.len() <= 2, "{b}: a page holds at most the limit");
                let Some(last) = page.last() else { break };
                cursor = last.id;
                pages += 1;
                assert!(pages < 1000, "{b}: paging does not terminate");
                paged.extend(page);
            }
            assert_eq!(paged, full, "{b}: paged concatenation equals one big read");
            assert_eq!(
                pages,
                full.len().div_ceil(2),
                "{b}: full pages until the end"
            );
        }
        // The contact never sees the other conversation.
        let contact_stream = stream(&store, &d.contact, 0).await;
        assert!(
            contact_stream.iter().all(|r| {
                serde_json::from_str::<EventPayload>(&r.payload)
                    .unwrap()
                    .conversation_id()
                    == d.conv
            }),
            "{b}: the contact's stream holds nothing of another conversation"
        );
        // limit 0 returns nothing.
        assert!(
            store
                .events_after(d.agent.id, true, EventId(0), 0)
                .await
                .unwrap()
                .is_empty(),
            "{b}: limit 0"
        );
    })
    .await;
}

#[tokio::test]
async fn a_since_joined_participant_sees_nothing_from_before_it_joined() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let m1 = post(&store, &d.contact, d.conv, "one").await.value.message;
        let m2 = post(&store, &d.agent, d.conv, "two").await.value.message;
        let m3 = post(&store, &d.contact, d.conv, "three")
            .await
            .value
            .message;

        let courier = contact(&store, d.ws, "courier").await;
        let added = store
            .add_participant(
                d.ws,
                d.conv,
                &NewParticipant {
                    account_id: courier.id,
                    role: ParticipantRole::ThirdParty,
                    visibility: Visibility::SinceJoined,
                },
                10,
            )
            .await
            .unwrap();
        assert_eq!(
            added.value.history_from_seq, 4,
            "{b}: history starts after seq 3"
        );
        assert_eq!(
            added.value.visibility,
            Visibility::SinceJoined,
            "{b}: visibility"
        );
        let join = the_one(&added.events, b, "adding a participant");
        assert_eq!(
            event_type(&join.payload),
            "participant_joined",
            "{b}: join event"
        );
        assert_eq!(
            recipients(&join),
            sorted(vec![d.contact.id, d.agent.id, courier.id]),
            "{b}: everyone hears of the join"
        );

        let m4 = post(&store, &d.agent, d.conv, "four").await;
        assert!(
            m4.events[0].recipients.contains(&courier.id),
            "{b}: the courier receives new messages"
        );
        let old_edit = store
            .edit_message(&d.contact, d.conv, m1.id, "one (edited)")
            .await
            .unwrap();
        let old_edit = the_one(&old_edit.events, b, "editing an old message");
        assert!(
            !old_edit.recipients.contains(&courier.id),
            "{b}: the courier does not receive edits of old messages"
        );
        assert!(
            old_edit.recipients.contains(&d.agent.id),
            "{b}: full-history participants do"
        );
        let old_reaction = store
            .react(&d.contact, d.conv, m2.id, "👍", true, 10)
            .await
            .unwrap();
        assert!(
            !the_one(&old_reaction.events, b, "reacting to an old message")
                .recipients
                .contains(&courier.id),
            "{b}: nor reactions to them"
        );
        let old_delete = store
            .delete_message(&d.contact, d.conv, m3.id)
            .await
            .unwrap();
        assert!(
            !the_one(&old_delete.events, b, "deleting an old message")
                .recipients
                .contains(&courier.id),
            "{b}: nor their deletion"
        );
        let new_edit = store
            .edit_message(&d.agent, d.conv, m4.value.message.id, "four (edited)")
            .await
            .unwrap();
        assert!(
            new_edit.events[0].recipients.contains(&courier.id),
            "{b}: edits of new messages reach the courier"
        );

        let courier_stream = stream(&store, &courier, 0).await;
        assert_eq!(
            record_ids(&courier_stream),
            vec![join.id.0, m4.events[0].id.0, new_edit.events[0].id.0],
            "{b}: the courier's stream is its join, the new message and its edit"
        );
        assert_eq!(
            record_types(&courier_stream),
            vec!["participant_joined", "message_created", "message_edited"],
            "{b}: stream types"
        );

        let me = participation(&store, d.ws, d.conv, &courier).await.unwrap();
        let seen = history(&store, d.ws, d.conv, &courier).await;
        assert_eq!(
            seqs(&seen),
            vec![4],
            "{b}: the courier's history starts at seq 4"
        );
        assert_eq!(seen[0].body, "four (edited)", "{b}: with the edit");
        let before = store
            .history(
                &courier,
                Some(&me),
                d.conv,
                HistoryQuery {
                    before: Some(4),
                    after: None,
                    limit: 50,
                },
            )
            .await
            .unwrap();
        assert!(
            before.is_empty(),
            "{b}: nothing before seq 4: {:?}",
            seqs(&before)
        );
        assert_domain(
            b,
            store.react(&courier, d.conv, m1.id, "👀", true, 10).await,
            ErrorCode::NotFound,
            "the courier reacting to an old message",
        );
        let page = store.list_conversations(&courier, None, 10).await.unwrap();
        assert_eq!(
            page.items.len(),
            1,
            "{b}: the courier lists the conversation"
        );
        assert_eq!(
            page.items[0].unread, 1,
            "{b}: only the new message is unread"
        );
    })
    .await;
}

#[tokio::test]
async fn a_removed_participant_hears_that_it_left_and_nothing_after() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        post(&store, &d.contact, d.conv, "bye").await;
        let removed = store
            .remove_participant(d.ws, d.conv, d.contact.id)
            .await
            .unwrap();
        let left = the_one(&removed.events, b, "removing a participant");
        assert_eq!(
            event_type(&left.payload),
            "participant_left",
            "{b}: event type"
        );
        assert!(
            left.recipients.contains(&d.contact.id),
            "{b}: the leaver receives participant_left"
        );
        assert_eq!(
            recipients(&left),
            sorted(vec![d.contact.id, d.agent.id]),
            "{b}: the leaver and the remaining participants"
        );
        match payload(&left) {
            EventPayload::ParticipantLeft {
                conversation_id,
                account_id,
                ..
            } => {
                assert_eq!(conversation_id, d.conv, "{b}: conversation");
                assert_eq!(account_id, d.contact.id, "{b}: who left");
            }
            other => panic!("{b}: unexpected payload {other:?}"),
        }

        let after = post(&store, &d.agent, d.conv, "are you there?").await;
        assert_eq!(
            after.events[0].recipients,
            vec![d.agent.id],
            "{b}: the leaver no longer receives messages"
        );
        let renamed = store
            .update_conversation(d.ws, d.conv, None, Some(Some("Closed".into())))
            .await
            .unwrap();
        assert!(
            !renamed.events[0].recipients.contains(&d.contact.id),
            "{b}: nor conversation updates"
        );

        let contact_stream = stream(&store, &d.contact, 0).await;
        assert_eq!(
            contact_stream.last().map(|r| r.id),
            Some(left.id),
            "{b}: participant_left is the last event in the leaver's stream"
        );
        assert!(
            stream(&store, &d.contact, left.id.0).await.is_empty(),
            "{b}: nothing after participant_left"
        );
        assert!(
            record_ids(&stream(&store, &d.agent, left.id.0).await).contains(&after.events[0].id.0),
            "{b}: the agent still gets them"
        );

        assert_domain(
            b,
            store
                .post_message(
                    &d.contact,
                    &new_message(d.conv, MessageKind::Text, "hi", None),
                )
                .await,
            ErrorCode::NotFound,
            "the leaver posting",
        );
        assert_domain(
            b,
            store.remove_participant(d.ws, d.conv, d.contact.id).await,
            ErrorCode::NotFound,
            "removing someone who already left",
        );
        let me = participation(&store, d.ws, d.conv, &d.contact).await;
        assert!(
            me.as_ref().is_some_and(|p| p.left_at.is_some()),
            "{b}: the participation is marked left: {me:?}"
        );
        assert!(
            store
                .participants(d.conv)
                .await
                .unwrap()
                .iter()
                .all(|p| p.account_id != d.contact.id),
            "{b}: the leaver is not an active participant"
        );
        assert!(
            store
                .list_conversations(&d.contact, None, 10)
                .await
                .unwrap()
                .items
                .is_empty(),
            "{b}: the leaver no longer lists the conversation"
        );
    })
    .await;
}

#[tokio::test]
async fn only_the_sender_edits_and_a_deleted_message_stays_as_a_tombstone() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let owner = staff(&store, d.ws, "owner@acme.test", StaffRole::Owner).await;
        let original = post(&store, &d.contact, d.conv, "helo").await.value.message;
        let agents = post(&store, &d.agent, d.conv, "hello to you")
            .await
            .value
            .message;

        assert_domain(
            b,
            store
                .edit_message(&d.agent, d.conv, original.id, "hacked")
                .await,
            ErrorCode::Forbidden,
            "editing someone else's message",
        );
        assert_domain(
            b,
            store
                .edit_message(&owner, d.conv, original.id, "hacked")
                .await,
            ErrorCode::Forbidden,
            "even an owner editing someone else's message",
        );

        let edited = store
            .edit_message(&d.contact, d.conv, original.id, "hello")
            .await
            .unwrap();
        assert_eq!(edited.value.body, "hello", "{b}: new body");
        assert!(edited.value.edited_at.is_some(), "{b}: edited_at set");
        assert_eq!(edited.value.seq, 1, "{b}: seq unchanged");
        let edit_event = the_one(&edited.events, b, "an edit");
        assert_eq!(
            event_type(&edit_event.payload),
            "message_edited",
            "{b}: type"
        );
        assert_eq!(
            recipients(&edit_event),
            sorted(vec![d.contact.id, d.agent.id]),
            "{b}: edit recipients"
        );
        let view = history(&store, d.ws, d.conv, &d.agent).await;
        assert_eq!(view[0].body, "hello", "{b}: history shows the edit");
        assert_eq!(
            view[0].edited_at, edited.value.edited_at,
            "{b}: edited_at stored"
        );

        assert_domain(
            b,
            store.delete_message(&d.agent, d.conv, original.id).await,
            ErrorCode::Forbidden,
            "an agent deleting someone else's message",
        );
        let deleted = store
            .delete_message(&d.contact, d.conv, original.id)
            .await
            .unwrap();
        let delete_event = the_one(&deleted.events, b, "a delete");
        match payload(&delete_event) {
            EventPayload::MessageDeleted {
                message_id, seq, ..
            } => {
                assert_eq!(message_id, original.id, "{b}: deleted id");
                assert_eq!(seq, 1, "{b}: deleted seq");
            }
            other => panic!("{b}: unexpected payload {other:?}"),
        }

        let view = history(&store, d.ws, d.conv, &d.contact).await;
        assert_eq!(seqs(&view), vec![1, 2], "{b}: the tombstone keeps its seq");
        assert_eq!(view[0].id, original.id, "{b}: same message");
        assert_eq!(view[0].body, "", "{b}: the tombstone's body is empty");
        assert!(view[0].deleted_at.is_some(), "{b}: deleted_at set");
        assert_eq!(
            view[1].body, "hello to you",
            "{b}: other messages untouched"
        );

        assert_domain(
            b,
            store
                .edit_message(&d.contact, d.conv, original.id, "again")
                .await,
            ErrorCode::Conflict,
            "editing a deleted message",
        );
        let again = store
            .delete_message(&d.contact, d.conv, original.id)
            .await
            .unwrap();
        assert!(again.events.is_empty(), "{b}: deleting twice emits nothing");

        // Moderation: an owner deletes another's message.
        let moderated = store
            .delete_message(&owner, d.conv, agents.id)
            .await
            .unwrap();
        assert_eq!(
            moderated.events.len(),
            1,
            "{b}: moderation emits the delete"
        );
        let view = history(&store, d.ws, d.conv, &d.agent).await;
        assert!(
            view[1].deleted_at.is_some(),
            "{b}: moderated message deleted"
        );
        assert_eq!(view[1].body, "", "{b}: moderated message emptied");
    })
    .await;
}

#[tokio::test]
async fn a_reaction_is_stored_once_and_shown_on_its_own_message() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let m1 = post(&store, &d.contact, d.conv, "one").await.value.message;
        let m2 = post(&store, &d.agent, d.conv, "two").await.value.message;

        let added = store
            .react(&d.contact, d.conv, m1.id, "👍", true, 10)
            .await
            .unwrap();
        let added_event = the_one(&added.events, b, "adding a reaction");
        match payload(&added_event) {
            EventPayload::ReactionAdded {
                message_id,
                account_id,
                emoji,
                ..
            } => {
                assert_eq!(
                    (message_id, account_id, emoji.as_str()),
                    (m1.id, d.contact.id, "👍"),
                    "{b}: payload"
                );
            }
            other => panic!("{b}: unexpected payload {other:?}"),
        }
        let twice = store
            .react(&d.contact, d.conv, m1.id, "👍", true, 10)
            .await
            .unwrap();
        assert!(
            twice.events.is_empty(),
            "{b}: adding it again emits nothing"
        );
        store
            .react(&d.agent, d.conv, m2.id, "❤️", true, 10)
            .await
            .unwrap();
        store
            .react(&d.agent, d.conv, m1.id, "👍", true, 10)
            .await
            .unwrap();

        let reactions = |m: &Message| {
            let mut r: Vec<(String, AccountId)> = m
                .reactions
                .iter()
                .map(|r| (r.emoji.clone(), r.account_id))
                .collect();
            r.sort();
            r
        };
        let view = history(&store, d.ws, d.conv, &d.contact).await;
        let mut want_m1 = vec![
            ("👍".to_string(), d.contact.id),
            ("👍".to_string(), d.agent.id),
        ];
        want_m1.sort();
        assert_eq!(reactions(&view[0]), want_m1, "{b}: reactions on message 1");
        assert_eq!(
            view[1].reactions,
            vec![Reaction {
                emoji: "❤️".into(),
                account_id: d.agent.id
            }],
            "{b}: reactions on message 2"
        );

        let removed = store
            .react(&d.contact, d.conv, m1.id, "👍", false, 10)
            .await
            .unwrap();
        assert_eq!(
            types(&removed.events),
            vec!["reaction_removed"],
            "{b}: removing emits reaction_removed"
        );
        let again = store
            .react(&d.contact, d.conv, m1.id, "👍", false, 10)
            .await
            .unwrap();
        assert!(
            again.events.is_empty(),
            "{b}: removing a missing reaction emits nothing"
        );
        let view = history(&store, d.ws, d.conv, &d.agent).await;
        assert_eq!(
            view[0].reactions,
            vec![Reaction {
                emoji: "👍".into(),
                account_id: d.agent.id
            }],
            "{b}: only the agent's reaction is left on message 1"
        );
        assert_eq!(view[1].reactions.len(), 1, "{b}: message 2 untouched");

        // The per-account limit.
        store
            .react(&d.contact, d.conv, m2.id, "a", true, 2)
            .await
            .unwrap();
        store
            .react(&d.contact, d.conv, m2.id, "b", true, 2)
            .await
            .unwrap();
        assert_domain(
            b,
            store.react(&d.contact, d.conv, m2.id, "c", true, 2).await,
            ErrorCode::Conflict,
            "a third reaction with a limit of 2",
        );
        let repeat = store
            .react(&d.contact, d.conv, m2.id, "a", true, 2)
            .await
            .unwrap();
        assert!(
            repeat.events.is_empty(),
            "{b}: re-adding at the limit is a no-op"
        );

        // Deleting a message clears its reactions and refuses new ones.
        store.delete_message(&d.agent, d.conv, m2.id).await.unwrap();
        let view = history(&store, d.ws, d.conv, &d.agent).await;
        assert!(
            view[1].reactions.is_empty(),
            "{b}: a tombstone has no reactions"
        );
        assert_domain(
            b,
            store.react(&d.contact, d.conv, m2.id, "👍", true, 10).await,
            ErrorCode::Conflict,
            "reacting to a deleted message",
        );
    })
    .await;
}

#[tokio::test]
async fn read_and_delivered_cursors_only_move_forward_and_drive_unread_counts() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        for body in ["s1", "s2", "s3"] {
            post(&store, &d.agent, d.conv, body).await;
        }
        post_kind(&store, &d.agent, d.conv, MessageKind::Note, "internal").await;
        post(&store, &d.contact, d.conv, "c5").await;

        let unread = move |page: natter_store::ConversationPage| {
            assert_eq!(page.items.len(), 1, "{b}: one conversation listed");
            page.items[0].unread
        };
        assert_eq!(
            unread(
                store
                    .list_conversations(&d.contact, None, 10)
                    .await
                    .unwrap()
            ),
            3,
            "{b}: the contact has 3 unread (not its own message, not the note)"
        );
        assert_eq!(
            unread(store.list_conversations(&d.agent, None, 10).await.unwrap()),
            1,
            "{b}: the agent has 1 unread (the contact's message)"
        );

        let read = store
            .move_cursor(&d.contact, d.conv, Cursor::Read, 100)
            .await
            .unwrap();
        assert_eq!(
            read.value, 5,
            "{b}: reading beyond the end is clamped to last_seq"
        );
        let read_event = the_one(&read.events, b, "reading");
        assert_eq!(
            payload(&read_event),
            EventPayload::Read {
                conversation_id: d.conv,
                account_id: d.contact.id,
                seq: 5
            },
            "{b}: read payload"
        );
        assert_eq!(
            recipients(&read_event),
            sorted(vec![d.contact.id, d.agent.id]),
            "{b}: read receipts reach the participants"
        );
        let me = participation(&store, d.ws, d.conv, &d.contact)
            .await
            .unwrap();
        assert_eq!(
            (me.read_seq, me.delivered_seq),
            (5, 5),
            "{b}: reading delivers too"
        );
        assert_eq!(
            unread(
                store
                    .list_conversations(&d.contact, None, 10)
                    .await
                    .unwrap()
            ),
            0,
            "{b}: nothing unread after reading"
        );

        let head = store.head().await.unwrap();
        let back = store
            .move_cursor(&d.contact, d.conv, Cursor::Read, 2)
            .await
            .unwrap();
        assert_eq!(back.value, 5, "{b}: moving back keeps the cursor");
        assert!(back.events.is_empty(), "{b}: moving back emits nothing");
        let same = store
            .move_cursor(&d.contact, d.conv, Cursor::Read, 5)
            .await
            .unwrap();
        assert!(
            same.events.is_empty(),
            "{b}: moving to the same place emits nothing"
        );
        let delivered_back = store
            .move_cursor(&d.contact, d.conv, Cursor::Delivered, 3)
            .await
            .unwrap();
        assert_eq!(delivered_back.value, 5, "{b}: delivered stays");
        assert!(delivered_back.events.is_empty(), "{b}: emits nothing");
        assert_eq!(
            store.head().await.unwrap(),
            head,
            "{b}: the log did not move"
        );
        let me = participation(&store, d.ws, d.conv, &d.contact)
            .await
            .unwrap();
        assert_eq!(
            (me.read_seq, me.delivered_seq),
            (5, 5),
            "{b}: cursors unchanged"
        );

        // Delivered alone, then read behind and ahead of it.
        let delivered = store
            .move_cursor(&d.agent, d.conv, Cursor::Delivered, 2)
            .await
            .unwrap();
        assert_eq!(
            types(&delivered.events),
            vec!["delivered"],
            "{b}: delivered event"
        );
        let me = participation(&store, d.ws, d.conv, &d.agent).await.unwrap();
        assert_eq!(
            (me.read_seq, me.delivered_seq),
            (0, 2),
            "{b}: delivered moves alone"
        );
        store
            .move_cursor(&d.agent, d.conv, Cursor::Read, 1)
            .await
            .unwrap();
        let me = participation(&store, d.ws, d.conv, &d.agent).await.unwrap();
        assert_eq!(
            (me.read_seq, me.delivered_seq),
            (1, 2),
            "{b}: reading behind delivered"
        );
        store
            .move_cursor(&d.agent, d.conv, Cursor::Read, 4)
            .await
            .unwrap();
        let me = participation(&store, d.ws, d.conv, &d.agent).await.unwrap();
        assert_eq!(
            (me.read_seq, me.delivered_seq),
            (4, 4),
            "{b}: reading pulls delivered"
        );
        assert_eq!(
            unread(store.list_conversations(&d.agent, None, 10).await.unwrap()),
            1,
            "{b}: the contact's seq 5 is still unread for the agent"
        );
        store
            .move_cursor(&d.agent, d.conv, Cursor::Read, 5)
            .await
            .unwrap();
        assert_eq!(
            unread(store.list_conversations(&d.agent, None, 10).await.unwrap()),
            0,
            "{b}: nothing unread"
        );

        assert_domain(
            b,
            store
                .move_cursor(&d.contact, d.conv, Cursor::Read, -1)
                .await,
            ErrorCode::InvalidField,
            "a negative seq",
        );
        let outsider = contact(&store, d.ws, "outsider").await;
        assert_domain(
            b,
            store.move_cursor(&outsider, d.conv, Cursor::Read, 1).await,
            ErrorCode::NotFound,
            "a non-participant moving a cursor",
        );
    })
    .await;
}

#[tokio::test]
async fn the_conversation_list_pages_newest_activity_first_without_duplicates() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let agent = staff(&store, ws, "agent@acme.test", StaffRole::Agent).await;
        let customer = contact(&store, ws, "c").await;
        let mut convs = Vec::new();
        for _ in 0..5 {
            let created = open_conversation(
                &store,
                ws,
                vec![
                    member(&customer, ParticipantRole::Customer),
                    member(&agent, ParticipantRole::Agent),
                ],
            )
            .await;
            convs.push(created.value.0.id);
        }
        // Activity in an order unlike creation order.
        for i in [2, 0, 4, 1, 3] {
            tick().await;
            post(&store, &agent, convs[i], "news").await;
        }
        let expected: Vec<ConversationId> = [3, 1, 4, 0, 2].iter().map(|&i| convs[i]).collect();

        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = store
                .list_conversations(&customer, cursor.as_deref(), 2)
                .await
                .unwrap();
            sizes.push(page.items.len());
            seen.extend(page.items.iter().map(|s| s.conversation.id));
            assert!(
                page.items.iter().all(|s| s.me.account_id == customer.id),
                "{b}: `me` is the caller's participation"
            );
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(sizes.len() < 10, "{b}: paging does not terminate");
        }
        assert_eq!(seen, expected, "{b}: newest activity first across pages");
        assert_eq!(sizes, vec![2, 2, 1], "{b}: page sizes");
        let unique: HashSet<ConversationId> = seen.iter().copied().collect();
        assert_eq!(unique.len(), 5, "{b}: no duplicates");

        let all = store.list_conversations(&customer, None, 5).await.unwrap();
        assert_eq!(
            all.items
                .iter()
                .map(|s| s.conversation.id)
                .collect::<Vec<_>>(),
            expected,
            "{b}: one exact page"
        );
        assert_eq!(
            all.next_cursor, None,
            "{b}: an exactly full last page has no cursor"
        );
        let all = store.list_conversations(&customer, None, 50).await.unwrap();
        assert_eq!(all.items.len(), 5, "{b}: a large limit");
        assert_eq!(all.next_cursor, None, "{b}: no cursor");
        assert!(
            all.items
                .windows(2)
                .all(|w| w[0].conversation.last_activity_at >= w[1].conversation.last_activity_at),
            "{b}: sorted by activity"
        );

        for garbage in ["garbage", "12.x", "x.12", "", "1.2.3"] {
            assert_domain(
                b,
                store.list_conversations(&customer, Some(garbage), 2).await,
                ErrorCode::InvalidField,
                &format!("the garbage cursor {garbage:?}"),
            );
        }
    })
    .await;
}

#[tokio::test]
async fn pruning_events_raises_the_floor_and_removes_them_from_replay() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        post(&store, &d.contact, d.conv, "old").await;
        let old_head = store.head().await.unwrap();
        assert!(old_head.last_event_id.0 >= 4, "{b}: some events to prune");
        tick().await;
        let cutoff = now_millis();
        tick().await;
        let fresh = post(&store, &d.agent, d.conv, "new").await;

        let deleted = store.prune_events(cutoff).await.unwrap();
        assert_eq!(
            deleted,
            u64::try_from(old_head.last_event_id.0).unwrap(),
            "{b}: every event before the cutoff is deleted"
        );
        let head = store.head().await.unwrap();
        assert_eq!(
            head.pruned_through, old_head.last_event_id,
            "{b}: the floor is the last pruned id"
        );
        assert_eq!(
            head.last_event_id, fresh.events[0].id,
            "{b}: the head is unchanged by pruning"
        );
        for account in [&d.contact, &d.agent] {
            assert_eq!(
                record_ids(&stream(&store, account, 0).await),
                vec![fresh.events[0].id.0],
                "{b}: only the unpruned event is replayed"
            );
        }

        let again = store.prune_events(cutoff).await.unwrap();
        assert_eq!(again, 0, "{b}: nothing more to prune");
        assert_eq!(store.head().await.unwrap(), head, "{b}: the floor stays");

        // Ids continue after the head; the floor is not disturbed by new events.
        let next = post(&store, &d.agent, d.conv, "next").await;
        assert_eq!(
            next.events[0].id.0,
            head.last_event_id.0 + 1,
            "{b}: ids continue"
        );
        assert_eq!(
            store.head().await.unwrap().pruned_through,
            old_head.last_event_id,
            "{b}: floor kept"
        );
        // Messages are not pruned with their events.
        assert_eq!(
            seqs(&history(&store, d.ws, d.conv, &d.agent).await),
            vec![1, 2, 3],
            "{b}: history intact"
        );
    })
    .await;
}

#[tokio::test]
async fn a_conversation_of_another_workspace_is_not_found() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let a = desk(&store).await;
        let ws_b = store.create_workspace("B").await.unwrap();
        let staff_b = staff(&store, ws_b, "boss@b.test", StaffRole::Owner).await;
        let contact_b = contact(&store, ws_b, "customer-1").await;
        let m = post(&store, &a.contact, a.conv, "secret")
            .await
            .value
            .message;

        assert_domain(
            b,
            store.conversation(ws_b, a.conv, staff_b.id).await,
            ErrorCode::NotFound,
            "reading A's conversation through workspace B",
        );
        assert!(
            store.conversation(a.ws, a.conv, a.agent.id).await.is_ok(),
            "{b}: A's own staff can read it"
        );
        assert_domain(
            b,
            store
                .post_message(&staff_b, &new_message(a.conv, MessageKind::Text, "x", None))
                .await,
            ErrorCode::NotFound,
            "B's owner posting into A's conversation",
        );
        assert_domain(
            b,
            store.edit_message(&staff_b, a.conv, m.id, "x").await,
            ErrorCode::NotFound,
            "B's owner editing A's message",
        );
        assert_domain(
            b,
            store.delete_message(&staff_b, a.conv, m.id).await,
            ErrorCode::NotFound,
            "B's owner deleting A's message",
        );
        assert_domain(
            b,
            store.react(&staff_b, a.conv, m.id, "👍", true, 10).await,
            ErrorCode::NotFound,
            "B's owner reacting in A",
        );
        assert_domain(
            b,
            store.move_cursor(&staff_b, a.conv, Cursor::Read, 1).await,
            ErrorCode::NotFound,
            "B's owner moving a cursor in A",
        );
        assert_domain(
            b,
            store
                .add_participant(
                    ws_b,
                    a.conv,
                    &member(&contact_b, ParticipantRole::Customer),
                    10,
                )
                .await,
            ErrorCode::NotFound,
            "adding to A's conversation through workspace B",
        );
        assert_domain(
            b,
            store
                .add_participant(
                    a.ws,
                    a.conv,
                    &member(&contact_b, ParticipantRole::Customer),
                    10,
                )
                .await,
            ErrorCode::NotFound,
            "adding B's contact to A's conversation",
        );
        assert_domain(
            b,
            store.remove_participant(ws_b, a.conv, a.contact.id).await,
            ErrorCode::NotFound,
            "removing from A's conversation through workspace B",
        );
        assert_domain(
            b,
            store
                .update_conversation(ws_b, a.conv, None, Some(None))
                .await,
            ErrorCode::NotFound,
            "updating A's conversation through workspace B",
        );
        assert_domain(
            b,
            store
                .create_conversation(&NewConversation {
                    workspace_id: ws_b,
                    kind: ConversationKind::Direct,
                    subject: None,
                    listing: None,
                    website_id: None,
                    participants: vec![
                        member(&contact_b, ParticipantRole::Buyer),
                        member(&a.contact, ParticipantRole::Seller),
                    ],
                })
                .await,
            ErrorCode::NotFound,
            "a conversation in B with A's contact",
        );
        assert_domain(
            b,
            store.account_in(ws_b, a.contact.id).await,
            ErrorCode::NotFound,
            "A's contact through workspace B",
        );
        assert!(
            store
                .list_conversations(&staff_b, None, 10)
                .await
                .unwrap()
                .items
                .is_empty(),
            "{b}: B lists nothing of A"
        );
        assert!(
            stream(&store, &staff_b, 0).await.is_empty(),
            "{b}: B's stream holds nothing of A"
        );
        assert_eq!(
            history(&store, a.ws, a.conv, &a.agent).await.len(),
            1,
            "{b}: A's conversation is untouched"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_one_time_token_works_once_for_its_purpose_and_not_after_it_expires() {
    use natter_store::TokenPurpose;
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let sam = staff(&store, ws, "sam@acme.test", StaffRole::Agent).await;
        let later = now_millis() + 60_000;
        store
            .create_one_time_token(sam.id, TokenPurpose::PasswordReset, &[1; 32], later)
            .await
            .unwrap();
        store
            .create_one_time_token(sam.id, TokenPurpose::Invitation, &[2; 32], now_millis() - 1)
            .await
            .unwrap();
        assert_eq!(
            store
                .consume_one_time_token(TokenPurpose::Invitation, &[1; 32])
                .await
                .unwrap(),
            None,
            "{b}: a reset token is no invitation"
        );
        assert_eq!(
            store
                .consume_one_time_token(TokenPurpose::PasswordReset, &[1; 32])
                .await
                .unwrap(),
            Some(sam.id),
            "{b}: the first use works"
        );
        assert_eq!(
            store
                .consume_one_time_token(TokenPurpose::PasswordReset, &[1; 32])
                .await
                .unwrap(),
            None,
            "{b}: the second use does not"
        );
        assert_eq!(
            store
                .consume_one_time_token(TokenPurpose::Invitation, &[2; 32])
                .await
                .unwrap(),
            None,
            "{b}: an expired token does not work"
        );
    })
    .await;
}

#[tokio::test]
async fn a_totp_step_and_a_recovery_code_are_each_accepted_once() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let sam = staff(&store, ws, "sam@acme.test", StaffRole::Agent).await;
        store
            .set_totp_secret(sam.id, Some(b"sealed"))
            .await
            .unwrap();
        store
            .enable_totp(sam.id, 100, &[vec![5; 32], vec![6; 32]])
            .await
            .unwrap();
        let credentials = store.credentials(sam.id).await.unwrap().unwrap();
        assert!(credentials.totp_enabled, "{b}");
        assert_eq!(
            credentials.totp_secret.as_deref(),
            Some(&b"sealed"[..]),
            "{b}"
        );
        assert!(
            !store.accept_totp_step(sam.id, 100).await.unwrap(),
            "{b}: step used at enrolment"
        );
        assert!(
            store.accept_totp_step(sam.id, 101).await.unwrap(),
            "{b}: a later step"
        );
        assert!(
            !store.accept_totp_step(sam.id, 101).await.unwrap(),
            "{b}: not twice"
        );
        assert!(
            !store.accept_totp_step(sam.id, 99).await.unwrap(),
            "{b}: not an older one"
        );
        assert!(
            store.use_recovery_code(sam.id, &[5; 32]).await.unwrap(),
            "{b}"
        );
        assert!(
            !store.use_recovery_code(sam.id, &[5; 32]).await.unwrap(),
            "{b}: once"
        );
        assert!(
            !store.use_recovery_code(sam.id, &[7; 32]).await.unwrap(),
            "{b}: unknown"
        );
    })
    .await;
}

#[tokio::test]
async fn failed_sign_ins_lock_at_the_threshold_and_success_clears_them() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let sam = staff(&store, ws, "sam@acme.test", StaffRole::Agent).await;
        for expected in 1..=3 {
            let failures = store
                .record_login_failure(sam.id, |f| (f >= 3).then_some(60_000))
                .await
                .unwrap();
            assert_eq!(failures, expected, "{b}");
        }
        let locked = store.credentials(sam.id).await.unwrap().unwrap();
        assert!(
            locked.locked_until.is_some_and(|t| t > now_millis()),
            "{b}: locked"
        );
        store.record_login_success(sam.id).await.unwrap();
        let cleared = store.credentials(sam.id).await.unwrap().unwrap();
        assert_eq!(
            (cleared.failed_logins, cleared.locked_until),
            (0, None),
            "{b}"
        );
    })
    .await;
}

#[tokio::test]
async fn sessions_can_be_listed_and_revoked_and_deactivation_ends_them_with_the_tokens() {
    use natter_core::model::SessionState;
    use natter_store::NewSession;
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let sam = staff(&store, ws, "sam@acme.test", StaffRole::Agent).await;
        let session = |hash: &'static [u8]| NewSession {
            account: sam.id,
            token_hash: hash,
            csrf_token: "csrf",
            state: SessionState::Active,
            ip: Some("127.0.0.1"),
            user_agent: None,
            expires_at: now_millis() + 60_000,
        };
        let first = store.create_session(&session(&[1; 32])).await.unwrap();
        let second = store.create_session(&session(&[2; 32])).await.unwrap();
        let third = store.create_session(&session(&[3; 32])).await.unwrap();
        let found = store
            .session_by_token_hash(&[2; 32])
            .await
            .unwrap()
            .unwrap();
        assert_eq!((found.id, found.account.id), (second, sam.id), "{b}");
        let listed = store.sessions(sam.id, Some(second)).await.unwrap();
        assert_eq!(listed.len(), 3, "{b}");
        assert!(listed.iter().any(|s| s.id == second && s.current), "{b}");

        assert!(store.revoke_session(sam.id, first).await.unwrap(), "{b}");
        assert!(
            store
                .session_by_token_hash(&[1; 32])
                .await
                .unwrap()
                .is_none(),
            "{b}"
        );
        assert_eq!(
            store.revoke_sessions(sam.id, Some(third)).await.unwrap(),
            1,
            "{b}"
        );
        assert!(
            store
                .session_by_token_hash(&[3; 32])
                .await
                .unwrap()
                .is_some(),
            "{b}: kept"
        );

        store
            .create_api_token(sam.id, "ci", &[9; 32], "read")
            .await
            .unwrap();
        assert!(store.deactivate(ws, sam.id).await.unwrap(), "{b}");
        assert!(
            store
                .session_by_token_hash(&[3; 32])
                .await
                .unwrap()
                .is_none(),
            "{b}"
        );
        assert!(
            store
                .account_by_token_hash(&[9; 32])
                .await
                .unwrap()
                .is_none(),
            "{b}"
        );
        assert!(store.credentials(sam.id).await.unwrap().is_none(), "{b}");
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_pages_newest_first_and_filters_by_action_and_actor() {
    use natter_store::{AuditQuery, NewAudit};
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let other = store.create_workspace("Other").await.unwrap();
        let sam = staff(&store, ws, "sam@acme.test", StaffRole::Admin).await;
        for (workspace, action) in [
            (ws, "login.succeeded"),
            (ws, "token.created"),
            (other, "login.succeeded"),
            (ws, "login.succeeded"),
        ] {
            store
                .audit(&NewAudit {
                    workspace_id: workspace,
                    actor_id: Some(sam.id),
                    action,
                    target_type: Some("account"),
                    target_id: Some(sam.id.to_string()),
                    ip: Some("10.0.0.1".into()),
                    detail: Some(serde_json::json!({"n": 1})),
                })
                .await
                .unwrap();
        }
        let all = store
            .audit_log(
                ws,
                &AuditQuery {
                    limit: 10,
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 3, "{b}: only this workspace");
        assert!(
            all.windows(2).all(|w| w[0].id > w[1].id),
            "{b}: newest first"
        );
        assert_eq!(all[0].detail, Some(serde_json::json!({"n": 1})), "{b}");
        let logins = store
            .audit_log(
                ws,
                &AuditQuery {
                    action: Some("login.succeeded".into()),
                    limit: 10,
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(logins.len(), 2, "{b}");
        let page = store
            .audit_log(
                ws,
                &AuditQuery {
                    before: Some(all[0].id),
                    limit: 1,
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page[0].id, all[1].id, "{b}: before continues the page");
    })
    .await;
}

#[tokio::test]
async fn events_read_back_for_gap_filling_carry_the_recipients_computed_at_commit() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let mut committed: Vec<CommittedEvent> = Vec::new();
        committed.extend(post(&store, &d.contact, d.conv, "hello").await.events);
        committed.extend(
            post_kind(&store, &d.agent, d.conv, MessageKind::Note, "vip")
                .await
                .events,
        );
        let courier = contact(&store, d.ws, "courier").await;
        committed.extend(
            store
                .add_participant(
                    d.ws,
                    d.conv,
                    &NewParticipant {
                        account_id: courier.id,
                        role: ParticipantRole::ThirdParty,
                        visibility: Visibility::SinceJoined,
                    },
                    100,
                )
                .await
                .unwrap()
                .events,
        );
        committed.extend(
            post(&store, &d.agent, d.conv, "courier joined")
                .await
                .events,
        );
        committed.extend(
            store
                .remove_participant(d.ws, d.conv, d.contact.id)
                .await
                .unwrap()
                .events,
        );
        let first = committed.first().unwrap().id;
        let last = committed.last().unwrap().id;
        let read = store.events_between(first, last, 100).await.unwrap();
        assert_eq!(read.len(), committed.len(), "{b}: every event in the range");
        for (live, stored) in committed.iter().zip(&read) {
            let mut expected = live.recipients.clone();
            expected.sort();
            let mut got = stored.recipients.clone();
            got.sort();
            assert_eq!(stored.id, live.id, "{b}");
            assert_eq!(got, expected, "{b}: recipients of event {}", live.id.0);
            assert_eq!(
                stored.payload, live.payload,
                "{b}: payload of event {}",
                live.id.0
            );
        }
        // A limit caps the range read.
        assert_eq!(
            store.events_between(first, last, 2).await.unwrap().len(),
            2,
            "{b}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_verified_upsert_makes_a_contact_verified_and_an_unverified_one_never_downgrades_it() {
    use natter_core::model::IdentityState;
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let upsert = |verified: bool| NewContact {
            workspace_id: ws,
            external_id: Some("user-7".into()),
            name: None,
            email: None,
            verified,
        };
        let first = store.upsert_contact(&upsert(false)).await.unwrap();
        assert_eq!(first.identity, Some(IdentityState::Identified), "{b}");
        let proven = store.upsert_contact(&upsert(true)).await.unwrap();
        assert_eq!(
            (proven.id, proven.identity),
            (first.id, Some(IdentityState::Verified)),
            "{b}"
        );
        let again = store.upsert_contact(&upsert(false)).await.unwrap();
        assert_eq!(
            again.identity,
            Some(IdentityState::Verified),
            "{b}: never downgraded"
        );
        let found = store
            .contact_by_external_id(ws, "user-7")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, first.id, "{b}");
    })
    .await;
}

#[tokio::test]
async fn contact_identity_settings_round_trip_with_sealed_secrets_as_bytes() {
    use natter_store::{ContactIdentitySettings, JwtSettings};
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        assert_eq!(
            store.contact_identity(ws).await.unwrap(),
            ContactIdentitySettings::default(),
            "{b}"
        );
        let settings = ContactIdentitySettings {
            require_verified: true,
            hmac_secret: Some(vec![0, 1, 2, 255]),
            jwt: Some(JwtSettings {
                algorithm: "ES256".into(),
                secret: None,
                public_key: None,
                jwks_url: Some("https://platform.test/jwks.json".into()),
                issuer: Some("https://platform.test".into()),
                audience: Some("natter".into()),
            }),
        };
        store.set_contact_identity(ws, &settings).await.unwrap();
        assert_eq!(store.contact_identity(ws).await.unwrap(), settings, "{b}");
        let cleared = ContactIdentitySettings {
            jwt: None,
            ..settings
        };
        store.set_contact_identity(ws, &cleared).await.unwrap();
        assert_eq!(store.contact_identity(ws).await.unwrap(), cleared, "{b}");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Group commit
// ---------------------------------------------------------------------------------------------

/// Like [`on_both_backends`], and also hands the body the database's URL, for tests that reach
/// the database directly (to make it refuse writes).
async fn on_both_backends_with_url<F, Fut>(body: F)
where
    F: Fn(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut failures = Vec::new();
    let sqlite = async {
        let dir = tempfile::TempDir::new().map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let url = format!("sqlite://{}/natter.db", dir.path().display());
        let store = Store::connect(&options(url.clone()))
            .await
            .map_err(|e| format!("cannot open {url}: {e}"))?;
        store
            .migrate()
            .await
            .map_err(|e| format!("migrations failed: {e}"))?;
        let outcome = run_body(&|store| body(store, url.clone()), store.clone()).await;
        store.close().await;
        drop(dir);
        outcome
    }
    .await;
    if let Err(e) = sqlite {
        failures.push(format!("[sqlite] {e}"));
    }

    sqlx::any::install_default_drivers();
    let admin_url = std::env::var("NATTER_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_string());
    let postgres = async {
        let mut admin = sqlx::AnyConnection::connect(&admin_url)
            .await
            .map_err(|e| format!("PostgreSQL is unreachable at {admin_url} ({e})"))?;
        let database = unique_database_name();
        admin
            .execute(sqlx::AssertSqlSafe(format!("create database {database}")))
            .await
            .map_err(|e| format!("cannot create database {database}: {e}"))?;
        let url = with_database(&admin_url, &database);
        let outcome = async {
            let store = Store::connect(&options(url.clone()))
                .await
                .map_err(|e| format!("cannot open database {database}: {e}"))?;
            if let Err(e) = store.migrate().await {
                store.close().await;
                return Err(format!("migrations failed: {e}"));
            }
            let outcome = run_body(&|store| body(store, url.clone()), store.clone()).await;
            store.close().await;
            outcome
        }
        .await;
        let dropped = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "drop database if exists {database} with (force)"
            )))
            .await;
        let _ = admin.close().await;
        match (outcome, dropped) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(e)) => Err(format!("cannot drop database {database}: {e}")),
            (Ok(()), Ok(_)) => Ok(()),
        }
    }
    .await;
    if let Err(e) = postgres {
        failures.push(format!("[postgres] {e}"));
    }
    assert!(
        failures.is_empty(),
        "failed on {} backend(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs each statement on a connection of its own to the store's database.
async fn run_sql(url: &str, statements: &[&str]) {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    for statement in statements {
        conn.execute(sqlx::AssertSqlSafe(statement.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    conn.close().await.unwrap();
}

/// Makes the database refuse (with an error) every message whose body is `poison`.
async fn refuse_poisoned_messages(store: &Store, url: &str) {
    match store.backend() {
        Backend::Sqlite => {
            run_sql(
                url,
                &["create trigger test_poison before insert on message
                   when new.body = 'poison'
                   begin select raise(abort, 'poisoned message refused'); end"],
            )
            .await
        }
        Backend::Postgres => {
            run_sql(
                url,
                &[
                    "create function test_poison() returns trigger language plpgsql as $$
                     begin
                       if new.body = 'poison' then
                         raise exception 'poisoned message refused';
                       end if;
                       return new;
                     end $$",
                    "create trigger test_poison before insert on message
                     for each row execute function test_poison()",
                ],
            )
            .await
        }
    }
}

/// Makes the database refuse every event while `test_refuse_events` has a row.
async fn install_event_refusal(store: &Store, url: &str) {
    match store.backend() {
        Backend::Sqlite => {
            run_sql(
                url,
                &[
                    "create table test_refuse_events (x integer)",
                    "create trigger test_refuse_events before insert on event
                     when exists (select 1 from test_refuse_events)
                     begin select raise(abort, 'events refused'); end",
                ],
            )
            .await
        }
        Backend::Postgres => {
            run_sql(
                url,
                &[
                    "create table test_refuse_events (x integer)",
                    "create function test_refuse_events() returns trigger language plpgsql as $$
                     begin
                       if exists (select 1 from test_refuse_events) then
                         raise exception 'events refused';
                       end if;
                       return new;
                     end $$",
                    "create trigger test_refuse_events before insert on event
                     for each row execute function test_refuse_events()",
                ],
            )
            .await
        }
    }
}

/// Posts every send at once, each from its own task, so that the committer finds them queued
/// together; returns the answers in the order of `sends`.
async fn post_all(
    store: &Store,
    sends: Vec<(Account, NewMessage)>,
) -> Vec<Result<Committed<PostOutcome>, StoreError>> {
    let tasks: Vec<_> = sends
        .into_iter()
        .map(|(sender, new)| {
            let store = store.clone();
            tokio::spawn(async move { store.post_message(&sender, &new).await })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// Checks that `events` (from the answers) are exactly the log between `head` and the store's
/// head now: every id once, no gaps, and the same payloads and recipients that replay from
/// storage computes.
async fn assert_log_is_exactly(store: &Store, head: i64, mut events: Vec<CommittedEvent>) {
    let b = on(store);
    events.sort_by_key(|e| e.id);
    let now = store.head().await.unwrap().last_event_id.0;
    let expected: Vec<i64> = (head + 1..=now).collect();
    assert_eq!(
        event_ids(&events),
        expected,
        "{b}: the answers carry every new event id exactly once, without gaps"
    );
    let stored = store
        .events_between(EventId(head + 1), EventId(now), 100_000)
        .await
        .unwrap();
    assert_eq!(
        event_ids(&stored),
        expected,
        "{b}: the log holds the same ids"
    );
    for (live, stored) in events.iter().zip(&stored) {
        assert_eq!(
            live.payload, stored.payload,
            "{b}: payload of {}",
            live.id.0
        );
        assert_eq!(
            recipients(live),
            recipients(stored),
            "{b}: live recipients of event {} ({}) match the replay rules",
            live.id.0,
            event_type(&live.payload)
        );
    }
}

#[tokio::test]
async fn five_hundred_concurrent_sends_each_get_the_answer_they_would_get_alone() {
    on_both_backends(|store| async move {
        let b = on(&store);
        let ws = store.create_workspace("Acme").await.unwrap();
        let agent = staff(&store, ws, "agent@acme.test", StaffRole::Agent).await;
        let lead = staff(&store, ws, "lead@acme.test", StaffRole::Admin).await;
        let outsider = contact(&store, ws, "outsider").await;
        let mut contacts = Vec::new();
        let mut convs = Vec::new();
        for i in 0..8 {
            let c = contact(&store, ws, &format!("customer-{i}")).await;
            let created = open_conversation(
                &store,
                ws,
                vec![
                    member(&c, ParticipantRole::Customer),
                    member(&agent, ParticipantRole::Agent),
                ],
            )
            .await;
            contacts.push(c);
            convs.push(created.value.0.id);
        }
        let other_ws = store.create_workspace("Other").await.unwrap();
        let foreign = contact(&store, other_ws, "foreign").await;
        let foreign_conv = open_conversation(
            &store,
            other_ws,
            vec![member(&foreign, ParticipantRole::Customer)],
        )
        .await
        .value
        .0
        .id;
        let earlier = store
            .post_message(
                &contacts[1],
                &new_message(
                    convs[1],
                    MessageKind::Text,
                    "stored earlier",
                    Some("earlier"),
                ),
            )
            .await
            .unwrap();
        let head = store.head().await.unwrap().last_event_id.0;

        // What each send is, by its index: fresh messages with and without a client_msg_id,
        // retries of keys repeated within the burst, retries of a key stored before it,
        // refused sends (not a participant, missing conversation, another workspace), staff
        // notes, and a staff member who is not a participant and joins by posting.
        #[derive(Debug, Clone, PartialEq)]
        enum Expect {
            Fresh,
            Keyed(ConversationId, String),
            Refused,
        }
        let mut sends = Vec::new();
        let mut expect = Vec::new();
        for i in 0..500usize {
            let k = i % 8;
            let (sender, new, e) = match i % 10 {
                0..=3 => {
                    let key = (i % 2 == 0).then(|| format!("c-{i}"));
                    let new = new_message(
                        convs[k],
                        MessageKind::Text,
                        &format!("m{i}"),
                        key.as_deref(),
                    );
                    (contacts[k].clone(), new, Expect::Fresh)
                }
                4 => {
                    let key = format!("dup-{}", (i / 10) % 3);
                    let new =
                        new_message(convs[k], MessageKind::Text, &format!("m{i}"), Some(&key));
                    (contacts[k].clone(), new, Expect::Keyed(convs[k], key))
                }
                5 => {
                    let new = new_message(
                        convs[1],
                        MessageKind::Text,
                        &format!("m{i}"),
                        Some("earlier"),
                    );
                    (
                        contacts[1].clone(),
                        new,
                        Expect::Keyed(convs[1], "earlier".into()),
                    )
                }
                6 => {
                    let new = new_message(convs[k], MessageKind::Text, &format!("m{i}"), None);
                    (outsider.clone(), new, Expect::Refused)
                }
                7 => {
                    let conv = if i % 20 == 7 {
                        ConversationId(1_000_000 + i as i64)
                    } else {
                        foreign_conv
                    };
                    let new = new_message(conv, MessageKind::Text, &format!("m{i}"), None);
                    (contacts[k].clone(), new, Expect::Refused)
                }
                8 => {
                    let new = new_message(convs[k], MessageKind::Note, &format!("m{i}"), None);
                    (agent.clone(), new, Expect::Fresh)
                }
                _ => {
                    let new = new_message(convs[0], MessageKind::Text, &format!("m{i}"), None);
                    (lead.clone(), new, Expect::Fresh)
                }
            };
            sends.push((sender, new));
            expect.push(e);
        }
        let answers = post_all(&store, sends.clone()).await;

        let mut events = Vec::new();
        let mut keyed: std::collections::HashMap<(ConversationId, String), Vec<&PostOutcome>> =
            std::collections::HashMap::new();
        for (i, answer) in answers.iter().enumerate() {
            match (&expect[i], answer) {
                (Expect::Refused, Err(StoreError::Domain(e))) => assert_eq!(
                    *e,
                    natter_core::Error::not_found("conversation"),
                    "{b}: send {i} is refused as it is alone"
                ),
                (Expect::Fresh, Ok(c)) => {
                    assert!(!c.value.duplicate, "{b}: send {i} is new");
                    assert_eq!(c.value.message.body, format!("m{i}"), "{b}: send {i} body");
                    assert_eq!(
                        c.events.last().map(|e| event_type(&e.payload)).as_deref(),
                        Some("message_created"),
                        "{b}: send {i} ends with its message_created"
                    );
                    events.extend(c.events.iter().cloned());
                }
                (Expect::Keyed(conv, key), Ok(c)) => {
                    events.extend(c.events.iter().cloned());
                    keyed
                        .entry((*conv, key.clone()))
                        .or_default()
                        .push(&c.value);
                }
                (e, answer) => panic!("{b}: send {i} expected {e:?}, got {answer:?}"),
            }
        }

        // Keys: one message per key; the stored key answers with the stored message.
        for ((conv, key), outcomes) in &keyed {
            let ids: HashSet<MessageId> = outcomes.iter().map(|o| o.message.id).collect();
            assert_eq!(
                ids.len(),
                1,
                "{b}: every send with key {key} answers one message"
            );
            let stored_now = outcomes.iter().filter(|o| !o.duplicate).count();
            if key == "earlier" {
                assert_eq!(
                    stored_now, 0,
                    "{b}: the key stored before is never stored again"
                );
                assert!(
                    outcomes.iter().all(|o| o.message == earlier.value.message),
                    "{b}: retries of the stored key answer with the stored message"
                );
            } else {
                assert_eq!(stored_now, 1, "{b}: key {key} in {conv:?} is stored once");
            }
        }

        // The lead joined once, with its first message, and hears nothing from before.
        let lead_answers: Vec<&Committed<PostOutcome>> = answers
            .iter()
            .zip(&sends)
            .filter(|(_, (sender, _))| sender.id == lead.id)
            .map(|(a, _)| a.as_ref().unwrap())
            .collect();
        let joins: Vec<&&Committed<PostOutcome>> = lead_answers
            .iter()
            .filter(|a| types(&a.events) == ["participant_joined", "message_created"])
            .collect();
        assert_eq!(joins.len(), 1, "{b}: the lead joins exactly once");
        let first_seq = lead_answers.iter().map(|a| a.value.message.seq).min();
        assert_eq!(
            Some(joins[0].value.message.seq),
            first_seq,
            "{b}: with its first message"
        );
        assert!(
            lead_answers
                .iter()
                .filter(|a| a.value.message.seq != first_seq.unwrap_or_default())
                .all(|a| types(&a.events) == ["message_created"]),
            "{b}: its other messages only create"
        );
        let join_id = joins[0].events[0].id;
        for event in events.iter().filter(|e| e.conversation_id == convs[0]) {
            assert_eq!(
                event.recipients.contains(&lead.id),
                event.id >= join_id,
                "{b}: the lead receives event {} only from its join on",
                event.id.0
            );
        }

        // Every conversation's seqs are 1..=last_seq, in event-id order, as returned.
        for (k, conv) in convs.iter().enumerate() {
            let stored = history(&store, ws, *conv, &agent).await;
            let (row, _) = store.conversation(ws, *conv, agent.id).await.unwrap();
            assert_eq!(
                seqs(&stored),
                (1..=row.last_seq).collect::<Vec<_>>(),
                "{b}: conversation {k} has seqs 1..=last_seq without gaps"
            );
            let mut created: Vec<(EventId, Message)> = events
                .iter()
                .filter(|e| e.conversation_id == *conv)
                .filter_map(|e| match payload(e) {
                    EventPayload::MessageCreated { message } => Some((e.id, message)),
                    _ => None,
                })
                .collect();
            created.sort_by_key(|(id, _)| *id);
            let in_id_order: Vec<i64> = created.iter().map(|(_, m)| m.seq).collect();
            let first_new = if k == 1 { 2 } else { 1 };
            assert_eq!(
                in_id_order,
                (first_new..=row.last_seq).collect::<Vec<_>>(),
                "{b}: conversation {k}'s messages have increasing seqs in event-id order"
            );
            for (_, message) in &created {
                assert_eq!(
                    stored.iter().find(|m| m.seq == message.seq),
                    Some(message),
                    "{b}: message {} is stored as announced",
                    message.seq
                );
            }
        }
        let fresh_or_keyed_new = answers
            .iter()
            .filter(|a| a.as_ref().is_ok_and(|c| !c.value.duplicate))
            .count();
        let created = events
            .iter()
            .filter(|e| event_type(&e.payload) == "message_created")
            .count();
        assert_eq!(
            created, fresh_or_keyed_new,
            "{b}: one event per new message"
        );
        assert_log_is_exactly(&store, head, events).await;
    })
    .await;
}

#[tokio::test]
async fn a_transaction_that_fails_acknowledges_none_of_its_sends() {
    on_both_backends_with_url(|store, url| async move {
        let b = on(&store);
        let d = desk(&store).await;
        install_event_refusal(&store, &url).await;
        run_sql(&url, &["insert into test_refuse_events (x) values (1)"]).await;
        let head = store.head().await.unwrap();
        let sends: Vec<(Account, NewMessage)> = (0..100)
            .map(|i| {
                let key = format!("k{i}");
                let new = new_message(d.conv, MessageKind::Text, &format!("m{i}"), Some(&key));
                (d.contact.clone(), new)
            })
            .collect();
        let answers = post_all(&store, sends.clone()).await;
        for (i, answer) in answers.iter().enumerate() {
            match answer {
                Err(e @ StoreError::Database(_)) => assert_eq!(
                    e.public().code,
                    ErrorCode::Internal,
                    "{b}: send {i} fails as a database error"
                ),
                other => panic!("{b}: send {i} must fail, got {other:?}"),
            }
        }
        assert!(
            history(&store, d.ws, d.conv, &d.agent).await.is_empty(),
            "{b}: nothing was stored"
        );
        let (conv, _) = store.conversation(d.ws, d.conv, d.agent.id).await.unwrap();
        assert_eq!(conv.last_seq, 0, "{b}: no seq was taken");
        assert_eq!(
            store.head().await.unwrap(),
            head,
            "{b}: no event id was taken"
        );

        // The same sends, retried once the database accepts them, are stored once each.
        run_sql(&url, &["delete from test_refuse_events"]).await;
        let answers = post_all(&store, sends).await;
        let mut events = Vec::new();
        for (i, answer) in answers.into_iter().enumerate() {
            let committed = answer.unwrap_or_else(|e| panic!("{b}: retry {i}: {e:?}"));
            assert!(
                !committed.value.duplicate,
                "{b}: retry {i} was never stored before"
            );
            events.extend(committed.events);
        }
        assert_eq!(
            seqs(&history(&store, d.ws, d.conv, &d.agent).await),
            (1..=100).collect::<Vec<_>>(),
            "{b}: the retries took seqs 1..=100"
        );
        assert_log_is_exactly(&store, head.last_event_id.0, events).await;
    })
    .await;
}

#[tokio::test]
async fn a_send_the_database_refuses_fails_alone_and_the_rest_of_its_batch_commits() {
    on_both_backends_with_url(|store, url| async move {
        let b = on(&store);
        let d = desk(&store).await;
        refuse_poisoned_messages(&store, &url).await;
        let head = store.head().await.unwrap().last_event_id.0;
        let poisoned = [7usize, 30, 31, 58];
        let sends: Vec<(Account, NewMessage)> = (0..60)
            .map(|i| {
                let body = if poisoned.contains(&i) {
                    "poison".to_string()
                } else {
                    format!("m{i}")
                };
                let key = (i % 3 == 0).then(|| format!("k{i}"));
                let sender = if i % 2 == 0 { &d.contact } else { &d.agent };
                let new = new_message(d.conv, MessageKind::Text, &body, key.as_deref());
                (sender.clone(), new)
            })
            .collect();
        let answers = post_all(&store, sends.clone()).await;
        let mut events = Vec::new();
        let mut bodies = Vec::new();
        for (i, answer) in answers.into_iter().enumerate() {
            if poisoned.contains(&i) {
                match answer {
                    Err(StoreError::Database(e)) => assert!(
                        e.to_string().contains("poisoned message refused"),
                        "{b}: send {i} fails with the database's own error: {e}"
                    ),
                    other => panic!("{b}: poisoned send {i} must fail, got {other:?}"),
                }
            } else {
                let committed = answer.unwrap_or_else(|e| panic!("{b}: send {i}: {e:?}"));
                assert!(!committed.value.duplicate, "{b}: send {i} is new");
                bodies.push(committed.value.message.body.clone());
                events.extend(committed.events);
            }
        }
        let stored = history(&store, d.ws, d.conv, &d.agent).await;
        assert_eq!(
            seqs(&stored),
            (1..=56).collect::<Vec<_>>(),
            "{b}: the 56 good sends are stored with seqs 1..=56"
        );
        let mut stored_bodies: Vec<String> = stored.iter().map(|m| m.body.clone()).collect();
        stored_bodies.sort();
        bodies.sort();
        assert_eq!(
            stored_bodies, bodies,
            "{b}: exactly the acknowledged sends are stored"
        );
        assert_log_is_exactly(&store, head, events).await;
    })
    .await;
}

#[tokio::test]
async fn two_nodes_committing_at_once_keep_one_gap_free_log_and_store_each_key_once() {
    on_both_backends_with_url(|store, url| async move {
        // Several nodes share one database only on PostgreSQL (SQLite is one process).
        if store.backend() == Backend::Sqlite {
            return;
        }
        let b = on(&store);
        let other_node = Store::connect(&options(url.clone())).await.unwrap();
        let ws = store.create_workspace("Acme").await.unwrap();
        let agent = staff(&store, ws, "agent@acme.test", StaffRole::Agent).await;
        let mut contacts = Vec::new();
        let mut convs = Vec::new();
        for i in 0..6 {
            let c = contact(&store, ws, &format!("customer-{i}")).await;
            let created = open_conversation(
                &store,
                ws,
                vec![
                    member(&c, ParticipantRole::Customer),
                    member(&agent, ParticipantRole::Agent),
                ],
            )
            .await;
            contacts.push(c);
            convs.push(created.value.0.id);
        }
        let head = store.head().await.unwrap().last_event_id.0;
        // Every conversation gets sends from both nodes; every key is sent twice, once
        // through each node, so the nodes race on the unique index.
        let mut tasks = Vec::new();
        for i in 0..400usize {
            let node = if i % 2 == 0 {
                store.clone()
            } else {
                other_node.clone()
            };
            let k = (i / 2) % 6;
            let sender = contacts[k].clone();
            let new = new_message(
                convs[k],
                MessageKind::Text,
                &format!("m{i}"),
                Some(&format!("key-{}", i / 2)),
            );
            tasks.push(tokio::spawn(async move {
                node.post_message(&sender, &new).await
            }));
        }
        let mut events = Vec::new();
        let mut by_key: std::collections::HashMap<String, Vec<PostOutcome>> =
            std::collections::HashMap::new();
        for task in tasks {
            let committed = task
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{b}: a send failed: {e:?}"));
            events.extend(committed.events);
            let key = committed.value.message.client_msg_id.clone().unwrap();
            by_key.entry(key).or_default().push(committed.value);
        }
        assert_eq!(by_key.len(), 200, "{b}: 200 keys");
        for (key, outcomes) in &by_key {
            assert_eq!(outcomes.len(), 2, "{b}: two answers for {key}");
            assert_eq!(
                outcomes[0].message.id, outcomes[1].message.id,
                "{b}: both nodes answer {key} with one message"
            );
            assert_eq!(
                outcomes.iter().filter(|o| !o.duplicate).count(),
                1,
                "{b}: {key} is stored once"
            );
        }
        for conv in &convs {
            let stored = history(&store, ws, *conv, &agent).await;
            assert_eq!(
                seqs(&stored),
                (1..=i64::try_from(stored.len()).unwrap()).collect::<Vec<_>>(),
                "{b}: seqs without gaps"
            );
        }
        assert_log_is_exactly(&store, head, events).await;
        other_node.close().await;
    })
    .await;
}

#[tokio::test]
async fn connections_killed_mid_batch_lose_no_acknowledged_send_and_retries_store_once() {
    on_both_backends_with_url(|store, url| async move {
        // Only PostgreSQL has server connections to kill.
        if store.backend() == Backend::Sqlite {
            return;
        }
        let b = on(&store);
        let d = desk(&store).await;
        let head = store.head().await.unwrap().last_event_id.0;
        let sends: Vec<(Account, NewMessage)> = (0..300)
            .map(|i| {
                let key = format!("k{i}");
                let new = new_message(d.conv, MessageKind::Text, &format!("m{i}"), Some(&key));
                (d.contact.clone(), new)
            })
            .collect();
        let killer = {
            let url = url.clone();
            tokio::spawn(async move {
                let mut admin = sqlx::AnyConnection::connect(&url).await.unwrap();
                for _ in 0..4 {
                    tokio::time::sleep(Duration::from_millis(15)).await;
                    admin
                        .execute(
                            "select pg_terminate_backend(pid) from pg_stat_activity
                             where datname = current_database() and pid <> pg_backend_pid()",
                        )
                        .await
                        .unwrap();
                }
                admin.close().await.unwrap();
            })
        };
        // The sends arrive in waves, so that some batches commit between the kills.
        let mut waves = Vec::new();
        for wave in sends.chunks(20) {
            let store = store.clone();
            let wave = wave.to_vec();
            waves.push(tokio::spawn(async move { post_all(&store, wave).await }));
            tokio::time::sleep(Duration::from_millis(4)).await;
        }
        let mut first = Vec::new();
        for wave in waves {
            first.extend(wave.await.unwrap());
        }
        killer.await.unwrap();
        let acked: Vec<Message> = first
            .iter()
            .filter_map(|a| a.as_ref().ok().map(|c| c.value.message.clone()))
            .collect();
        for answer in &first {
            if let Err(e) = answer {
                assert!(
                    !matches!(e, StoreError::Domain(_)),
                    "{b}: a killed connection is not the sender's fault: {e:?}"
                );
            }
        }
        // Clients retry what was not acknowledged, with the same keys.
        let mut retried = Vec::new();
        for (send, answer) in sends.iter().zip(&first) {
            if answer.is_err() {
                retried.push(send.clone());
            }
        }
        let second = post_all(&store, retried).await;
        for answer in &second {
            assert!(answer.is_ok(), "{b}: retries succeed: {answer:?}");
        }
        let stored = history(&store, d.ws, d.conv, &d.agent).await;
        assert_eq!(
            seqs(&stored),
            (1..=300).collect::<Vec<_>>(),
            "{b}: every send stored exactly once ({} acknowledged at first)",
            acked.len()
        );
        for message in &acked {
            assert_eq!(
                stored.iter().find(|m| m.id == message.id),
                Some(message),
                "{b}: acknowledged message {} is stored as acknowledged",
                message.seq
            );
        }
        let now = store.head().await.unwrap().last_event_id.0;
        let log = store
            .events_between(EventId(head + 1), EventId(now), 100_000)
            .await
            .unwrap();
        assert_eq!(
            event_ids(&log),
            (head + 1..=head + 300).collect::<Vec<_>>(),
            "{b}: one event per stored message, without gaps"
        );
    })
    .await;
}

#[tokio::test]
async fn a_history_page_gives_back_every_field_as_written_whatever_the_body_holds() {
    // The page is built as JSON by the database and parsed back: quotes, backslashes,
    // control characters, markup and non-BMP characters must survive unchanged, and so must
    // the nullable fields, on both engines.
    on_both_backends(|store| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let tricky =
            "\"quoted\" \\back\\slash\\ \n\t\r \u{1} </script><b>&amp;</b> 😀 \u{10FFFF} é";
        let with_id = store
            .post_message(
                &d.contact,
                &new_message(d.conv, MessageKind::Text, tricky, Some("c-\"1\"")),
            )
            .await
            .unwrap()
            .value
            .message;
        let plain = post(&store, &d.agent, d.conv, "[1, 2]").await.value.message;
        let edited = post(&store, &d.contact, d.conv, "before")
            .await
            .value
            .message;
        tick().await;
        let edited = store
            .edit_message(&d.contact, d.conv, edited.id, "after {\"json\": true}")
            .await
            .unwrap()
            .value;
        let gone = post(&store, &d.agent, d.conv, "to delete")
            .await
            .value
            .message;
        store
            .delete_message(&d.agent, d.conv, gone.id)
            .await
            .unwrap();
        store
            .react(&d.agent, d.conv, with_id.id, "🇬🇧", true, 10)
            .await
            .unwrap();

        let page = history(&store, d.ws, d.conv, &d.agent).await;
        assert_eq!(page.len(), 4, "{b}: messages on the page");
        assert_eq!(page[0].body, tricky, "{b}: body");
        assert_eq!(page[0].client_msg_id.as_deref(), Some("c-\"1\""), "{b}");
        assert_eq!(
            (page[0].id, page[0].conversation_id, page[0].seq),
            (with_id.id, d.conv, with_id.seq),
            "{b}: ids"
        );
        assert_eq!(page[0].sender_id, Some(d.contact.id), "{b}: sender");
        assert_eq!(page[0].created_at, with_id.created_at, "{b}: created_at");
        assert_eq!(page[0].reactions.len(), 1, "{b}: reactions");
        assert_eq!(page[0].reactions[0].emoji, "🇬🇧", "{b}: emoji");
        assert_eq!(page[0].reactions[0].account_id, d.agent.id, "{b}");
        assert_eq!(page[1], plain, "{b}: an untouched message reads back equal");
        assert_eq!(page[1].client_msg_id, None, "{b}");
        assert_eq!(page[2], edited, "{b}: the edited message");
        assert!(page[2].edited_at.is_some(), "{b}: edited_at");
        assert_eq!(page[3].id, gone.id, "{b}");
        assert!(page[3].deleted_at.is_some(), "{b}: deleted_at");
        assert_eq!(page[3].body, "", "{b}: a tombstone has no body");
        assert_eq!(page[3].edited_at, None, "{b}");
    })
    .await;
}

/// The committer keeps member lists between batches (`members.rs`); these are the changes it
/// must notice: joins, leaves and rejoins made outside it, on this node or another, and a
/// batch of its own whose staff join was rolled back before a different join committed.
#[tokio::test]
async fn the_committer_s_member_lists_follow_every_join_leave_and_rejoin_and_forget_rolled_back_joins()
 {
    on_both_backends_with_url(|store, url| async move {
        let b = on(&store);
        let d = desk(&store).await;
        let other_node = Store::connect(&options(url.clone())).await.unwrap();
        let sent = |body: &'static str, sender: &Account| {
            let (store, sender) = (store.clone(), sender.clone());
            async move { recipients(&post(&store, &sender, d.conv, body).await.events[0]) }
        };
        assert_eq!(
            sent("first", &d.contact).await,
            sorted(vec![d.contact.id, d.agent.id]),
            "{b}: the first send reads the members"
        );

        // The next send is served from the kept list: a change made behind the triggers' back
        // (the agent marked as gone, the version put back) is not seen while the version stays.
        let agent_gone = format!(
            "update participant set left_at = 1 where conversation_id = {} and account_id = {}",
            d.conv.0, d.agent.id.0
        );
        run_sql(
            &url,
            &[
                "create table test_saved_version as select * from member_version",
                &agent_gone,
                "update member_version set version = (select s.version from test_saved_version s
                 where s.conversation_id = member_version.conversation_id)",
            ],
        )
        .await;
        assert_eq!(
            sent("from the kept list", &d.contact).await,
            sorted(vec![d.contact.id, d.agent.id]),
            "{b}: an unchanged version serves the kept list without reading the members"
        );
        let agent_back = format!(
            "update participant set left_at = null where conversation_id = {} and account_id = {}",
            d.conv.0, d.agent.id.0
        );
        run_sql(&url, &[&agent_back]).await;

        let courier = contact(&store, d.ws, "courier-1").await;
        other_node
            .add_participant(
                d.ws,
                d.conv,
                &member(&courier, ParticipantRole::ThirdParty),
                100,
            )
            .await
            .unwrap();
        assert_eq!(
            sent("after a join on another node", &d.contact).await,
            sorted(vec![d.contact.id, d.agent.id, courier.id]),
            "{b}: a join made elsewhere reaches the next send"
        );

        store
            .remove_participant(d.ws, d.conv, courier.id)
            .await
            .unwrap();
        assert_eq!(
            sent("after a leave", &d.contact).await,
            sorted(vec![d.contact.id, d.agent.id]),
            "{b}: one who left receives nothing more"
        );

        let rejoin = NewParticipant {
            visibility: Visibility::SinceJoined,
            ..member(&courier, ParticipantRole::ThirdParty)
        };
        other_node
            .add_participant(d.ws, d.conv, &rejoin, 100)
            .await
            .unwrap();
        assert_eq!(
            sent("after a rejoin", &d.agent).await,
            sorted(vec![d.contact.id, d.agent.id, courier.id]),
            "{b}: one who came back receives again"
        );

        // A staff reply joins its sender inside the committer's batch; that batch fails after
        // reading the members (its events are refused), and then a different account joins.
        install_event_refusal(&store, &url).await;
        run_sql(&url, &["insert into test_refuse_events (x) values (1)"]).await;
        let supervisor = staff(&store, d.ws, "lead@acme.test", StaffRole::Admin).await;
        store
            .post_message(
                &supervisor,
                &new_message(d.conv, MessageKind::Text, "rolled back", None),
            )
            .await
            .expect_err("the batch is refused");
        run_sql(&url, &["delete from test_refuse_events"]).await;
        let second_courier = contact(&store, d.ws, "courier-2").await;
        other_node
            .add_participant(
                d.ws,
                d.conv,
                &member(&second_courier, ParticipantRole::ThirdParty),
                100,
            )
            .await
            .unwrap();
        assert_eq!(
            sent("after the rollback", &d.contact).await,
            sorted(vec![
                d.contact.id,
                d.agent.id,
                courier.id,
                second_courier.id
            ]),
            "{b}: the rolled-back join is not a member and the committed one is"
        );
        other_node.close().await;
    })
    .await;
}
