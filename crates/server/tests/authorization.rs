//! The authorization matrix: every HTTP endpoint and every real-time client frame, for every
//! kind of caller, with the answer each must get — through the real binary, on both
//! backends.
//!
//! The tables below are the specification. Each row is one endpoint (as the OpenAPI
//! document names it) exercised in one situation; each column is one caller:
//!
//! | column | caller |
//! |---|---|
//! | `Ow` | the workspace owner (the first admin token) |
//! | `Ad` | an admin |
//! | `Ag` | an agent who takes part in no conversation |
//! | `AI` | an agent who is a participant of the support conversation `S` |
//! | `Cu` | the customer: contact participant of `S` |
//! | `OC` | another customer: a contact who is in neither `S` nor `D` |
//! | `Bu`, `Se` | buyer and seller: contacts in the `direct` conversation `D` |
//! | `Th` | a third party added to `D` with `since_joined` visibility after some messages |
//! | `An` | anonymous: no credentials at all |
//! | `Ga` | a tampered contact token (valid payload, broken signature) |
//! | `WB` | the owner of another workspace, B, using workspace A's ids |
//! | `RO` | an API token of the owner with only the `read` scope |
//! | `De` | the old token of a staff member who was deactivated |
//!
//! Expected answers: `A` allowed (2xx); `U` 401 unauthenticated; `F` 403 forbidden; `N` 404
//! not_found (for what the caller may not know exists); `C` 409 conflict; `I` 400
//! invalid_field. Where the server and the table disagree, the table says what natter must
//! do, and the test fails until the server does it.
//!
//! Beyond the status of each cell the tests check that: the OpenAPI document lists no
//! endpoint the matrix does not cover (and the matrix no route the document omits); a
//! workspace-B caller gets 404 for every workspace-A id; a contact gets the same answer for a
//! conversation it is not in as for one that does not exist; a visitor token works only on
//! its own website's widget, and the widget's public endpoints only from that website's
//! domains (or with no `Origin`); and real-time events reach only those who may see them
//! (non-participants, notes, history before a `since_joined` join, other workspaces), live
//! and on replay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Backend, Client, Server};
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use Case::*;

// ----- callers ------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Owner,
    Admin,
    Agent,
    AgentIn,
    Customer,
    OtherCustomer,
    Buyer,
    Seller,
    Third,
    Anonymous,
    Garbage,
    OtherWorkspace,
    ReadOnly,
    Deactivated,
}

/// The columns of the HTTP tables, in order.
const ROLES: [Role; 14] = [
    Role::Owner,
    Role::Admin,
    Role::Agent,
    Role::AgentIn,
    Role::Customer,
    Role::OtherCustomer,
    Role::Buyer,
    Role::Seller,
    Role::Third,
    Role::Anonymous,
    Role::Garbage,
    Role::OtherWorkspace,
    Role::ReadOnly,
    Role::Deactivated,
];

impl Role {
    fn is_contact(self) -> bool {
        matches!(
            self,
            Role::Customer | Role::OtherCustomer | Role::Buyer | Role::Seller | Role::Third
        )
    }

    fn label(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent (not a participant)",
            Role::AgentIn => "agent (participant of S)",
            Role::Customer => "customer (of S)",
            Role::OtherCustomer => "other customer",
            Role::Buyer => "buyer (of D)",
            Role::Seller => "seller (of D)",
            Role::Third => "third party (since_joined in D)",
            Role::Anonymous => "anonymous",
            Role::Garbage => "tampered token",
            Role::OtherWorkspace => "workspace B owner",
            Role::ReadOnly => "read-only token",
            Role::Deactivated => "deactivated staff",
        }
    }
}

/// The two conversations of workspace A the rows act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conv {
    /// `support`: customer, the participating agent, a spare customer; a staff note.
    S,
    /// `direct`: buyer, seller, a spare participant; the third party joined later.
    D,
}

/// Does `role` take part in `conv`?
fn participates(role: Role, conv: Conv) -> bool {
    match conv {
        Conv::S => matches!(role, Role::AgentIn | Role::Customer),
        Conv::D => matches!(role, Role::Buyer | Role::Seller | Role::Third),
    }
}

// ----- expected answers ---------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum X {
    Allow,
    Deny(u16, &'static str),
}

const A: X = X::Allow;
const U: X = X::Deny(401, "unauthenticated");
const F: X = X::Deny(403, "forbidden");
const N: X = X::Deny(404, "not_found");
const C: X = X::Deny(409, "conflict");
const I: X = X::Deny(400, "invalid_field");

impl X {
    fn accepts(self, status: u16, body: &Value) -> bool {
        match self {
            X::Allow => (200..300).contains(&status),
            X::Deny(expected, code) => status == expected && body["code"] == code,
        }
    }

    fn describe(self) -> String {
        match self {
            X::Allow => "2xx".to_string(),
            X::Deny(status, code) => format!("{status} {code}"),
        }
    }
}

// ----- the situations rows are exercised in -------------------------------------------------

/// What a row does. Paths use the caller's own id ("self"), a bystander's, a fresh object's
/// or one of the conversations `S`/`D`; see [`World::prepare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    Me,
    CreateAgent,
    CreateOwner,
    InviteAgent,
    InviteOwner,
    TokenForSelf,
    TokenForAgent,
    TokenForOwner,
    ListOwnTokens,
    ListAgentTokens,
    PromoteAgent,
    MakeOwner,
    DemoteOwner,
    RoleOfContact,
    DeactivateAgent,
    DeactivateOwner,
    DeactivateContact,
    DeactivateSelf,
    RevokeOwnToken,
    RevokeAgentToken,
    RevokeOwnerToken,
    Security,
    SetSecurity,
    SsoSettings,
    SetSso,
    ContactIdentity,
    SetContactIdentity,
    RotateHmacSecret,
    Audit,
    UpsertContact,
    ContactToken,
    ContactTokenForStaff,
    SecondFactor,
    CurrentSession,
    Sessions,
    RevokeSession,
    ChangePassword,
    TotpSetup,
    TotpEnable,
    TotpDisable,
    Logout,
    CreateSupport,
    ContactOpensSupport,
    CreateDirect,
    List,
    ShowS,
    ShowD,
    UpdateS,
    UpdateD,
    AddToS,
    AddToD,
    RemoveSpareS,
    RemoveSpareD,
    LeaveS,
    LeaveD,
    HistoryS,
    HistoryD,
    PostS,
    PostD,
    PostNoteS,
    EditOwnS,
    EditOwnD,
    EditOthersS,
    EditOthersD,
    EditNoteS,
    EditPreJoinD,
    DeleteOwnS,
    DeleteOwnD,
    DeleteOthersS,
    DeleteOthersD,
    DeleteNoteS,
    DeletePreJoinD,
    ReactS,
    ReactD,
    ReactNoteS,
    ReactPreJoinD,
    UnreactS,
    UnreactD,
    UnreactNoteS,
    UnreactPreJoinD,
    ReadS,
    ReadD,
    DeliveredS,
    DeliveredD,
    TypingS,
    TypingD,
    FrameSendS,
    FrameSendD,
    FramePing,
    Events,
    Websites,
    CreateWebsite,
    ShowWebsite,
    ShowRestrictedWebsite,
    UpdateWebsite,
    DeleteWebsite,
    RotateWebsiteSecret,
    LiveVisitors,
    RestrictedLiveVisitors,
    VisitorContext,
    RestrictedVisitorContext,
    StaffContext,
    Inbox,
    WidgetIdentify,
    WidgetProfile,
    WidgetPageView,
    WidgetActivity,
    WidgetTrack,
    WidgetOffline,
    Queue,
    TakeWaiting,
    TakeRestricted,
    TakeNotWaiting,
    Agents,
    SetOwnState,
    SetAgentState,
    SetContactState,
    Teams,
    CreateTeam,
    UpdateTeam,
    Rules,
    SetRules,
    TransferToTeam,
    TransferToAgent,
    AcceptOwnOffer,
    DeclineOwnOffer,
    AcceptOthersOffer,
    DeclineOthersOffer,
    InboxCounts,
    Labels,
    SetLabelsS,
    BulkLabelS,
    CannedList,
    CreatePersonalCanned,
    CreateSharedCanned,
    UpdateSharedCanned,
    UpdateOthersCanned,
    DeleteSharedCanned,
    DeleteOthersCanned,
    Preferences,
    SetPreferences,
    EditContact,
    EditMe,
}

impl Case {
    /// The conversation the row acts on, if any.
    fn conv(self) -> Option<Conv> {
        match self {
            ShowS | UpdateS | AddToS | RemoveSpareS | LeaveS | HistoryS | PostS | PostNoteS
            | EditOwnS | EditOthersS | EditNoteS | DeleteOwnS | DeleteOthersS | DeleteNoteS
            | ReactS | ReactNoteS | UnreactS | UnreactNoteS | ReadS | DeliveredS | TypingS
            | FrameSendS | TransferToTeam | TransferToAgent | AcceptOwnOffer | DeclineOwnOffer
            | AcceptOthersOffer | DeclineOthersOffer => Some(Conv::S),
            ShowD | UpdateD | AddToD | RemoveSpareD | LeaveD | HistoryD | PostD | EditOwnD
            | EditOthersD | EditPreJoinD | DeleteOwnD | DeleteOthersD | DeletePreJoinD | ReactD
            | ReactPreJoinD | UnreactD | UnreactPreJoinD | ReadD | DeliveredD | TypingD
            | FrameSendD => Some(Conv::D),
            _ => None,
        }
    }

    /// Rows whose allowed calls change the conversation (or, when a staff member posts,
    /// its membership): each allowed cell gets its own copy of `S`/`D`, and the denied
    /// cells of the row share one, so no row depends on another.
    fn fresh(self) -> bool {
        matches!(
            self,
            UpdateS
                | UpdateD
                | AddToS
                | AddToD
                | RemoveSpareS
                | RemoveSpareD
                | LeaveS
                | LeaveD
                | PostS
                | PostD
                | PostNoteS
                | EditOwnS
                | EditOwnD
                | EditOthersS
                | EditOthersD
                | EditNoteS
                | EditPreJoinD
                | DeleteOwnS
                | DeleteOwnD
                | DeleteOthersS
                | DeleteOthersD
                | DeleteNoteS
                | DeletePreJoinD
                | FrameSendS
                | FrameSendD
                | TakeWaiting
                | TakeRestricted
                | TransferToTeam
                | TransferToAgent
                | AcceptOwnOffer
                | DeclineOwnOffer
                | AcceptOthersOffer
                | DeclineOthersOffer
        )
    }

    /// Rows whose id is the caller's own (so workspace B uses one of its own ids there).
    fn uses_own_id(self) -> bool {
        matches!(
            self,
            TokenForSelf | ListOwnTokens | DeactivateSelf | RevokeOwnToken | SetOwnState
        )
    }

    /// Rows whose id is a website's public key, which every page with the widget shows:
    /// workspace B gets what any caller without a visitor token of that website gets.
    fn uses_public_key(self) -> bool {
        matches!(
            self,
            WidgetIdentify
                | WidgetProfile
                | WidgetPageView
                | WidgetActivity
                | WidgetTrack
                | WidgetOffline
        )
    }
}

struct Row {
    /// `METHOD /path` exactly as in the OpenAPI document.
    endpoint: &'static str,
    case: Case,
    expect: [X; 14],
}

const fn row(endpoint: &'static str, case: Case, expect: [X; 14]) -> Row {
    Row {
        endpoint,
        case,
        expect,
    }
}

// ----- the matrix ---------------------------------------------------------------------------

/// Staff, tokens, contacts, workspace settings, the audit log and account security.
#[rustfmt::skip]
const STAFF_ROWS: &[Row] = &[
    //  endpoint                                           case                   Ow Ad Ag AI Cu OC Bu Se Th An Ga WB RO De
    row("GET /v1/me",                                      Me,                   [A, A, A, A, A, A, A, A, A, U, U, A, A, U]),
    row("POST /v1/staff",                                  CreateAgent,          [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
    // Only an owner makes owners.
    row("POST /v1/staff",                                  CreateOwner,          [A, F, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("POST /v1/staff/invitations",                      InviteAgent,          [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("POST /v1/staff/invitations",                      InviteOwner,          [A, F, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("POST /v1/staff/{account_id}/tokens",              TokenForSelf,         [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
    row("POST /v1/staff/{account_id}/tokens",              TokenForAgent,        [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    // A token for the owner acts as the owner: an admin minting one would become an owner.
    row("POST /v1/staff/{account_id}/tokens",              TokenForOwner,        [A, F, F, F, F, F, F, F, F, U, U, N, F, U]),
    // Contacts have no API tokens: the staff namespace is not theirs.
    row("GET /v1/staff/{account_id}/tokens",               ListOwnTokens,        [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
    row("GET /v1/staff/{account_id}/tokens",               ListAgentTokens,      [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("PATCH /v1/staff/{account_id}",                    PromoteAgent,         [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("PATCH /v1/staff/{account_id}",                    MakeOwner,            [A, F, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("PATCH /v1/staff/{account_id}",                    DemoteOwner,          [A, F, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("PATCH /v1/staff/{account_id}",                    RoleOfContact,        [N, N, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/staff/{account_id}",                   DeactivateAgent,      [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/staff/{account_id}",                   DeactivateOwner,      [A, F, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/staff/{account_id}",                   DeactivateContact,    [N, N, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/staff/{account_id}",                   DeactivateSelf,       [C, C, F, F, F, F, F, F, F, U, U, C, F, U]),
    row("DELETE /v1/tokens/{token_id}",                    RevokeOwnToken,       [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
    row("DELETE /v1/tokens/{token_id}",                    RevokeAgentToken,     [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    // Only owners touch owners (role, deactivation — and their credentials).
    row("DELETE /v1/tokens/{token_id}",                    RevokeOwnerToken,     [A, F, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("GET /v1/workspace/security",                      Security,             [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
    row("PATCH /v1/workspace/security",                    SetSecurity,          [A, F, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("GET /v1/workspace/sso",                           SsoSettings,          [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("PUT /v1/workspace/sso",                           SetSso,               [A, F, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("GET /v1/workspace/contact-identity",              ContactIdentity,      [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("PUT /v1/workspace/contact-identity",              SetContactIdentity,   [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("POST /v1/workspace/contact-identity/hmac-secret", RotateHmacSecret,     [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("GET /v1/audit",                                   Audit,                [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("POST /v1/contacts",                               UpsertContact,        [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
    row("POST /v1/contacts/{account_id}/tokens",           ContactToken,         [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("POST /v1/contacts/{account_id}/tokens",           ContactTokenForStaff, [I, I, I, I, F, F, F, F, F, U, U, N, F, U]),
    // Session-cookie steps: a bearer token is not a session.
    row("POST /v1/auth/second-factor",                     SecondFactor,         [U, U, U, U, U, U, U, U, U, U, U, U, F, U]),
    row("GET /v1/auth/session",                            CurrentSession,       [U, U, U, U, U, U, U, U, U, U, U, U, F, U]),
    row("GET /v1/auth/sessions",                           Sessions,             [A, A, A, A, A, A, A, A, A, U, U, A, F, U]),
    // Someone else's session (the bystander's): nobody may learn of it or end it.
    row("DELETE /v1/auth/sessions/{session_id}",           RevokeSession,        [N, N, N, N, N, N, N, N, N, U, U, N, F, U]),
    row("POST /v1/auth/password",                          ChangePassword,       [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
    // A second factor is managed from a signed-in session, never with an API token: a
    // leaked token must not be able to enrol the attacker's authenticator.
    row("POST /v1/auth/totp/setup",                        TotpSetup,            [F, F, F, F, F, F, F, F, F, U, U, F, F, U]),
    row("POST /v1/auth/totp/enable",                       TotpEnable,           [F, F, F, F, F, F, F, F, F, U, U, F, F, U]),
    row("POST /v1/auth/totp/disable",                      TotpDisable,          [C, C, C, C, F, F, F, F, F, U, U, C, F, U]),
    row("POST /v1/auth/logout",                            Logout,               [A, A, A, A, A, A, A, A, A, U, U, A, F, U]),
];

/// Conversations and participants.
#[rustfmt::skip]
const CONVERSATION_ROWS: &[Row] = &[
    //  endpoint                                                                case                  Ow Ad Ag AI Cu OC Bu Se Th An Ga WB RO De
    row("POST /v1/conversations",                                               CreateSupport,       [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("POST /v1/conversations",                                               ContactOpensSupport, [I, I, I, I, A, A, A, A, A, U, U, I, F, U]),
    row("POST /v1/conversations",                                               CreateDirect,        [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("GET /v1/conversations",                                                List,                [A, A, A, A, A, A, A, A, A, U, U, A, A, U]),
    row("GET /v1/conversations/{conversation_id}",                              ShowS,               [A, A, A, A, A, N, N, N, N, U, U, N, A, U]),
    row("GET /v1/conversations/{conversation_id}",                              ShowD,               [A, A, A, A, N, N, A, A, A, U, U, N, A, U]),
    row("PATCH /v1/conversations/{conversation_id}",                            UpdateS,             [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("PATCH /v1/conversations/{conversation_id}",                            UpdateD,             [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("POST /v1/conversations/{conversation_id}/participants",                AddToS,              [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("POST /v1/conversations/{conversation_id}/participants",                AddToD,              [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/participants/{account_id}", RemoveSpareS,        [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/participants/{account_id}", RemoveSpareD,        [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/participants/{account_id}", LeaveS,              [N, N, N, A, A, N, N, N, N, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/participants/{account_id}", LeaveD,              [N, N, N, N, N, N, A, A, A, U, U, N, F, U]),
];

/// Messages, reactions, receipts, typing and the real-time HTTP transport.
#[rustfmt::skip]
const MESSAGE_ROWS: &[Row] = &[
    //  endpoint                                                                              case              Ow Ad Ag AI Cu OC Bu Se Th An Ga WB RO De
    row("GET /v1/conversations/{conversation_id}/messages",                                   HistoryS,        [A, A, A, A, A, N, N, N, N, U, U, N, A, U]),
    row("GET /v1/conversations/{conversation_id}/messages",                                   HistoryD,        [A, A, A, A, N, N, A, A, A, U, U, N, A, U]),
    row("POST /v1/conversations/{conversation_id}/messages",                                  PostS,           [A, A, A, A, A, N, N, N, N, U, U, N, F, U]),
    row("POST /v1/conversations/{conversation_id}/messages",                                  PostD,           [A, A, A, A, N, N, A, A, A, U, U, N, F, U]),
    row("POST /v1/conversations/{conversation_id}/messages",                                  PostNoteS,       [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("PATCH /v1/conversations/{conversation_id}/messages/{message_id}",                    EditOwnS,        [A, A, A, A, A, N, N, N, N, U, U, N, F, U]),
    row("PATCH /v1/conversations/{conversation_id}/messages/{message_id}",                    EditOwnD,        [A, A, A, A, N, N, A, A, A, U, U, N, F, U]),
    row("PATCH /v1/conversations/{conversation_id}/messages/{message_id}",                    EditOthersS,     [F, F, F, F, F, N, N, N, N, U, U, N, F, U]),
    row("PATCH /v1/conversations/{conversation_id}/messages/{message_id}",                    EditOthersD,     [F, F, F, F, N, N, F, F, F, U, U, N, F, U]),
    row("PATCH /v1/conversations/{conversation_id}/messages/{message_id}",                    EditNoteS,       [F, F, F, A, N, N, N, N, N, U, U, N, F, U]),
    row("PATCH /v1/conversations/{conversation_id}/messages/{message_id}",                    EditPreJoinD,    [F, F, F, F, N, N, A, F, N, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/messages/{message_id}",                   DeleteOwnS,      [A, A, A, A, A, N, N, N, N, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/messages/{message_id}",                   DeleteOwnD,      [A, A, A, A, N, N, A, A, A, U, U, N, F, U]),
    // Owners and admins moderate; agents and contacts delete only their own.
    row("DELETE /v1/conversations/{conversation_id}/messages/{message_id}",                   DeleteOthersS,   [A, A, F, F, F, N, N, N, N, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/messages/{message_id}",                   DeleteOthersD,   [A, A, F, F, N, N, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/messages/{message_id}",                   DeleteNoteS,     [A, A, F, A, N, N, N, N, N, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/messages/{message_id}",                   DeletePreJoinD,  [A, A, F, F, N, N, A, F, N, U, U, N, F, U]),
    row("PUT /v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",    ReactS,          [A, A, A, A, A, N, N, N, N, U, U, N, F, U]),
    row("PUT /v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",    ReactD,          [A, A, A, A, N, N, A, A, A, U, U, N, F, U]),
    row("PUT /v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",    ReactNoteS,      [A, A, A, A, N, N, N, N, N, U, U, N, F, U]),
    row("PUT /v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}",    ReactPreJoinD,   [A, A, A, A, N, N, A, A, N, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}", UnreactS,        [A, A, A, A, A, N, N, N, N, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}", UnreactD,        [A, A, A, A, N, N, A, A, A, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}", UnreactNoteS,    [A, A, A, A, N, N, N, N, N, U, U, N, F, U]),
    row("DELETE /v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}", UnreactPreJoinD, [A, A, A, A, N, N, A, A, N, U, U, N, F, U]),
    // Only participants have cursors.
    row("POST /v1/conversations/{conversation_id}/read",                                      ReadS,           [N, N, N, A, A, N, N, N, N, U, U, N, F, U]),
    row("POST /v1/conversations/{conversation_id}/read",                                      ReadD,           [N, N, N, N, N, N, A, A, A, U, U, N, F, U]),
    row("POST /v1/conversations/{conversation_id}/delivered",                                 DeliveredS,      [N, N, N, A, A, N, N, N, N, U, U, N, F, U]),
    row("POST /v1/conversations/{conversation_id}/delivered",                                 DeliveredD,      [N, N, N, N, N, N, A, A, A, U, U, N, F, U]),
    // Only participants type; staff who may read but are not in it are refused.
    row("POST /v1/conversations/{conversation_id}/typing",                                    TypingS,         [F, F, F, A, A, N, N, N, N, U, U, N, F, U]),
    row("POST /v1/conversations/{conversation_id}/typing",                                    TypingD,         [F, F, F, F, N, N, A, A, A, U, U, N, F, U]),
    row("POST /v1/frames",                                                                    FrameSendS,      [A, A, A, A, A, N, N, N, N, U, U, N, F, U]),
    row("POST /v1/frames",                                                                    FrameSendD,      [A, A, A, A, N, N, A, A, A, U, U, N, F, U]),
    row("POST /v1/frames",                                                                    FramePing,       [A, A, A, A, A, A, A, A, A, U, U, A, F, U]),
    row("GET /v1/events",                                                                     Events,          [A, A, A, A, A, A, A, A, A, U, U, A, A, U]),
];

/// Websites, live visitors, a contact's visit context, the inbox, and the widget's calls
/// that need a visitor token. Website `W` is served by every agent; the restricted website
/// `R` only by the participating agent (`AI`).
#[rustfmt::skip]
const WEBSITE_ROWS: &[Row] = &[
    //  endpoint                                      case                       Ow Ad Ag AI Cu OC Bu Se Th An Ga WB RO De
    row("GET /v1/websites",                           Websites,                 [A, A, A, A, F, F, F, F, F, U, U, A, A, U]),
    // A website's settings are for owners and admins.
    row("POST /v1/websites",                          CreateWebsite,            [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("GET /v1/websites/{website_id}",              ShowWebsite,              [A, A, A, A, F, F, F, F, F, U, U, N, A, U]),
    // Agents see only the websites they serve.
    row("GET /v1/websites/{website_id}",              ShowRestrictedWebsite,    [A, A, N, A, F, F, F, F, F, U, U, N, A, U]),
    row("PUT /v1/websites/{website_id}",              UpdateWebsite,            [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/websites/{website_id}",           DeleteWebsite,            [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("POST /v1/websites/{website_id}/hmac-secret", RotateWebsiteSecret,      [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("GET /v1/websites/{website_id}/visitors",     LiveVisitors,             [A, A, A, A, F, F, F, F, F, U, U, N, A, U]),
    row("GET /v1/websites/{website_id}/visitors",     RestrictedLiveVisitors,   [A, A, N, A, F, F, F, F, F, U, U, N, A, U]),
    // A read: the `read` scope suffices (the `contacts` scope is for creating contacts).
    row("GET /v1/contacts/{account_id}/context",      VisitorContext,           [A, A, A, A, F, F, F, F, F, U, U, N, A, U]),
    row("GET /v1/contacts/{account_id}/context",      RestrictedVisitorContext, [A, A, N, A, F, F, F, F, F, U, U, N, A, U]),
    // A staff member has no visit context.
    row("GET /v1/contacts/{account_id}/context",      StaffContext,             [N, N, N, N, F, F, F, F, F, U, U, N, N, U]),
    row("GET /v1/inbox",                              Inbox,                    [A, A, A, A, F, F, F, F, F, U, U, A, A, U]),
    // Only a visitor token of the website (`W`'s key here) may; no column holds one. See
    // `a_visitor_token_works_only_on_the_widget_of_its_own_website`.
    row("POST /v1/widget/{key}/identify",             WidgetIdentify,           [F, F, F, F, F, F, F, F, F, U, U, F, F, U]),
    row("PUT /v1/widget/{key}/profile",               WidgetProfile,            [F, F, F, F, F, F, F, F, F, U, U, F, F, U]),
    row("POST /v1/widget/{key}/pageviews",            WidgetPageView,           [F, F, F, F, F, F, F, F, F, U, U, F, F, U]),
    row("POST /v1/widget/{key}/activity",             WidgetActivity,           [F, F, F, F, F, F, F, F, F, U, U, F, F, U]),
    row("POST /v1/widget/{key}/events",               WidgetTrack,              [F, F, F, F, F, F, F, F, F, U, U, F, F, U]),
    row("POST /v1/widget/{key}/offline",              WidgetOffline,            [F, F, F, F, F, F, F, F, F, U, U, F, F, U]),
];

/// The queue, agents' availability, teams and routing rules. Reads are for staff (an agent
/// sees the waiting chats of the websites it serves); teams and rules are set by owners and
/// admins. `TakeWaiting` takes a chat a contact opened (waiting: nobody is online), each
/// allowed cell its own; `TakeRestricted` one opened by a visitor of `R`.
#[rustfmt::skip]
const ROUTING_ROWS: &[Row] = &[
    //  endpoint                                  case              Ow Ad Ag AI Cu OC Bu Se Th An Ga WB RO De
    row("GET /v1/queue",                          Queue,           [A, A, A, A, F, F, F, F, F, U, U, A, A, U]),
    // Taking a chat is a write: the `read` scope does not suffice.
    row("POST /v1/queue/{conversation_id}/take",  TakeWaiting,     [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    // Agents take only the chats of the websites they serve.
    row("POST /v1/queue/{conversation_id}/take",  TakeRestricted,  [A, A, N, A, F, F, F, F, F, U, U, N, F, U]),
    // `S` was opened by staff: it never waited.
    row("POST /v1/queue/{conversation_id}/take",  TakeNotWaiting,  [C, C, C, C, F, F, F, F, F, U, U, N, F, U]),
    row("GET /v1/agents",                         Agents,          [A, A, A, A, F, F, F, F, F, U, U, A, A, U]),
    // One's own availability is one's own business; another's is for owners and admins.
    row("PUT /v1/agents/{account_id}/state",      SetOwnState,     [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
    row("PUT /v1/agents/{account_id}/state",      SetAgentState,   [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    // A contact is no agent.
    row("PUT /v1/agents/{account_id}/state",      SetContactState, [N, N, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("GET /v1/teams",                          Teams,           [A, A, A, A, F, F, F, F, F, U, U, A, A, U]),
    row("POST /v1/teams",                         CreateTeam,      [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("PUT /v1/teams/{team_id}",                UpdateTeam,      [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("GET /v1/routing/rules",                  Rules,           [A, A, A, A, F, F, F, F, F, U, U, A, A, U]),
    row("PUT /v1/routing/rules",                  SetRules,        [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
];

/// Transfers of a support chat, each allowed cell on its own copy of `S`. Only staff
/// transfer (a contact is refused before the conversation is looked up, so its answer says
/// nothing of what exists), and of the staff only the chat's agents, owners and admins.
/// `AcceptOwnOffer`/`DeclineOwnOffer` answer an offer made to the caller (by the owner, or
/// the admin when the caller is the owner; callers who cannot receive one find an offer to
/// the owner); `AcceptOthersOffer`/`DeclineOthersOffer` one made to the bystander.
#[rustfmt::skip]
const TRANSFER_ROWS: &[Row] = &[
    //  endpoint                                                        case                 Ow Ad Ag AI Cu OC Bu Se Th An Ga WB RO De
    row("POST /v1/conversations/{conversation_id}/transfer",            TransferToTeam,     [A, A, F, A, F, F, F, F, F, U, U, N, F, U]),
    // To an agent: an offer (202) they accept or decline.
    row("POST /v1/conversations/{conversation_id}/transfer",            TransferToAgent,    [A, A, F, A, F, F, F, F, F, U, U, N, F, U]),
    // Answering an offer is a write: the `read` scope does not suffice.
    row("POST /v1/conversations/{conversation_id}/transfer/accept",     AcceptOwnOffer,     [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("POST /v1/conversations/{conversation_id}/transfer/decline",    DeclineOwnOffer,    [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    // Nobody answers an offer made to someone else, nor learns of it.
    row("POST /v1/conversations/{conversation_id}/transfer/accept",     AcceptOthersOffer,  [N, N, N, N, F, F, F, F, F, U, U, N, F, U]),
    row("POST /v1/conversations/{conversation_id}/transfer/decline",    DeclineOthersOffer, [N, N, N, N, F, F, F, F, F, U, U, N, F, U]),
];

/// The agent workspace: inbox counts, labels, bulk actions, canned responses, preferences.
/// Only staff; a workspace-B owner finds nothing of workspace A (its bulk request answers 200
/// with every item `not_found`, per item). Someone else's personal canned response is
/// invisible even to owners; workspace-wide ones are changed by owners and admins.
#[rustfmt::skip]
const DESK_ROWS: &[Row] = &[
    //  endpoint                                          case                  Ow Ad Ag AI Cu OC Bu Se Th An Ga WB RO De
    row("GET /v1/inbox/counts",                           InboxCounts,          [A, A, A, A, F, F, F, F, F, U, U, A, A, U]),
    row("GET /v1/labels",                                 Labels,               [A, A, A, A, F, F, F, F, F, U, U, A, A, U]),
    row("PUT /v1/conversations/{conversation_id}/labels", SetLabelsS,           [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    row("POST /v1/conversations/bulk",                    BulkLabelS,           [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
    row("GET /v1/canned-responses",                       CannedList,           [A, A, A, A, F, F, F, F, F, U, U, A, A, U]),
    row("POST /v1/canned-responses",                      CreatePersonalCanned, [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
    row("POST /v1/canned-responses",                      CreateSharedCanned,   [A, A, F, F, F, F, F, F, F, U, U, A, F, U]),
    row("PATCH /v1/canned-responses/{canned_id}",         UpdateSharedCanned,   [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("PATCH /v1/canned-responses/{canned_id}",         UpdateOthersCanned,   [N, N, N, N, F, F, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/canned-responses/{canned_id}",        DeleteSharedCanned,   [A, A, F, F, F, F, F, F, F, U, U, N, F, U]),
    row("DELETE /v1/canned-responses/{canned_id}",        DeleteOthersCanned,   [N, N, N, N, F, F, F, F, F, U, U, N, F, U]),
    row("GET /v1/me/preferences",                         Preferences,          [A, A, A, A, F, F, F, F, F, U, U, A, A, U]),
    row("PUT /v1/me/preferences",                         SetPreferences,       [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
    // The customer of `S`; a workspace-B owner finds no such contact.
    row("PATCH /v1/contacts/{account_id}",                EditContact,          [A, A, A, A, F, F, F, F, F, U, U, N, F, U]),
    // One's own name and photo: every staff member (a workspace-B owner changes their own).
    row("PATCH /v1/me",                                   EditMe,               [A, A, A, A, F, F, F, F, F, U, U, A, F, U]),
];

/// An endpoint that needs no credentials, by design.
struct Public {
    endpoint: &'static str,
    /// A concrete request an anonymous caller makes (`None`: checked elsewhere).
    path: Option<&'static str>,
    body: Option<&'static str>,
    /// What that request gets.
    status: u16,
    why: &'static str,
}

const fn public(
    endpoint: &'static str,
    path: Option<&'static str>,
    body: Option<&'static str>,
    status: u16,
    why: &'static str,
) -> Public {
    Public {
        endpoint,
        path,
        body,
        status,
        why,
    }
}

#[rustfmt::skip]
const PUBLIC: &[Public] = &[
    public("GET /healthz", Some("/healthz"), None, 200,
           "liveness probe for orchestrators; says nothing about data"),
    public("GET /readyz", Some("/readyz"), None, 200,
           "readiness probe for load balancers; reports only whether the database answers"),
    public("GET /openapi.json", Some("/openapi.json"), None, 200, "the public description of the API"),
    public("GET /docs", Some("/docs"), None, 200, "the interactive reference that renders /openapi.json"),
    public("GET /metrics", Some("/metrics"), None, 200,
           "Prometheus scrape target; kept private by network placement"),
    public("POST /v1/auth/login", Some("/v1/auth/login"),
           Some(r#"{"email":"nobody@a.example","password":"not the password"}"#), 401,
           "sign-in entry point: the email and password are the credentials"),
    public("POST /v1/auth/password-reset", Some("/v1/auth/password-reset"),
           Some(r#"{"email":"nobody@a.example"}"#), 202,
           "reset entry point: answers 202 whether or not the email is known"),
    public("POST /v1/auth/password-reset/confirm", Some("/v1/auth/password-reset/confirm"),
           Some(r#"{"token":"nope","password":"sturdy lantern 42 ferns"}"#), 401,
           "the emailed single-use token is the credential"),
    public("POST /v1/auth/invitations/accept", Some("/v1/auth/invitations/accept"),
           Some(r#"{"token":"nope","password":"sturdy lantern 42 ferns"}"#), 401,
           "the emailed single-use token is the credential"),
    public("GET /v1/auth/sso/{workspace_id}", Some("/v1/auth/sso/1"), None, 200,
           "the sign-in page asks whether to offer SSO; the answer is only enabled: true/false"),
    public("GET /v1/auth/sso/{workspace_id}/start", Some("/v1/auth/sso/1/start"), None, 403,
           "sign-in entry point: sends the browser to the workspace's identity provider"),
    public("GET /v1/auth/sso/callback", Some("/v1/auth/sso/callback?state=nope&code=nope"), None, 401,
           "the provider's redirect back: state, attempt cookie and signed ID token are the credentials"),
    public("POST /v1/contacts/identify", Some("/v1/contacts/identify"), Some(r#"{"workspace_id":1}"#), 200,
           "the widget's entry point: a visitor becomes a contact; proof (user_hash or a platform \
            JWT) is checked inside, and a verified contact cannot be claimed without it"),
    public("GET /v1/widget/{key}", Some("/v1/widget/wk_unknown"), None, 404,
           "the widget's configuration, read by every page the widget is on: the key is public, \
            and a page outside the website's domains is refused (with a real key: the website \
            matrix)"),
    public("POST /v1/widget/{key}/visitors", Some("/v1/widget/wk_unknown/visitors"), Some("{}"), 404,
           "the widget's first call: a new visitor gets a token bound to the website; \
            Origin-checked like the configuration, and rate-limited per address"),
    public("GET /v1/ws", None, None, 0,
           "authenticates with its hello frame; covered by the WebSocket matrix"),
];

/// Routes that need not appear in the OpenAPI document, and why.
const UNDOCUMENTED_BY_DESIGN: &[&str] = &[
    "GET /openapi.json", // the document itself
    "GET /docs",         // a page rendering the document
    "GET /metrics",      // Prometheus text format, for operators
    "GET /v1/ws",        // a WebSocket upgrade; the protocol is in docs/protocol.md
];

fn all_rows() -> impl Iterator<Item = &'static Row> {
    STAFF_ROWS
        .iter()
        .chain(CONVERSATION_ROWS)
        .chain(MESSAGE_ROWS)
        .chain(WEBSITE_ROWS)
        .chain(ROUTING_ROWS)
        .chain(TRANSFER_ROWS)
        .chain(DESK_ROWS)
}

/// Every `METHOD /path` the matrix knows: the rows and the public list.
fn matrix_endpoints() -> BTreeSet<String> {
    all_rows()
        .map(|r| r.endpoint.to_string())
        .chain(PUBLIC.iter().map(|p| p.endpoint.to_string()))
        .collect()
}

// ----- HTTP -----------------------------------------------------------------------------------

const PASSWORD: &str = "sturdy lantern 42 ferns";
/// 👍, as it travels in a path.
const THUMBS: &str = "%F0%9F%91%8D";
/// An id no object has.
const GHOST: i64 = 999_999_999;
/// The page the matrix's websites are installed on, and one they are not.
const SHOP: &str = "https://shop.example.com";
const ELSEWHERE: &str = "https://elsewhere.example.net";

/// The password `natter serve` gave the first owner (it writes it next to the data).
fn first_admin_password(server: &Server) -> String {
    let login = std::fs::read_to_string(server.data_dir().join("first-admin-login")).unwrap();
    login.lines().nth(1).unwrap().to_string()
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[derive(Clone)]
struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    /// One request; an event stream answers with its status only (the body never ends).
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let streaming = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if streaming {
            return (status, Value::Null, headers);
        }
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value, headers)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (status, value, _) = self.send(method, path, token, body, &[]).await;
        (status, value)
    }

    /// A call that must succeed (fixtures).
    async fn ok(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, Some(token), body.as_ref()).await;
        assert!(
            (200..300).contains(&status),
            "fixture {method} {path}: {status} {value}"
        );
        value
    }

    async fn message(&self, token: &str, conversation: i64, body: &str, kind: &str) -> i64 {
        let posted = self
            .ok(
                "POST",
                &format!("/v1/conversations/{conversation}/messages"),
                token,
                Some(json!({"body": body, "kind": kind})),
            )
            .await;
        posted["message"]["id"].as_i64().unwrap()
    }

    async fn contact(&self, token: &str, name: &str) -> Actor {
        let contact = self
            .ok(
                "POST",
                "/v1/contacts",
                token,
                Some(json!({"external_id": unique(name), "name": name})),
            )
            .await;
        let id = contact["id"].as_i64().unwrap();
        let issued = self
            .ok("POST", &format!("/v1/contacts/{id}/tokens"), token, None)
            .await;
        Actor {
            id,
            token: issued["token"].as_str().unwrap().to_string(),
        }
    }

    async fn staff(&self, owner: &str, role: &str) -> Actor {
        let account = self
            .ok(
                "POST",
                "/v1/staff",
                owner,
                Some(json!({"email": format!("{}@a.example", unique(role)), "role": role})),
            )
            .await;
        let id = account["id"].as_i64().unwrap();
        let issued = self
            .ok(
                "POST",
                &format!("/v1/staff/{id}/tokens"),
                owner,
                Some(json!({"name": "matrix"})),
            )
            .await;
        Actor {
            id,
            token: issued["token"].as_str().unwrap().to_string(),
        }
    }

    /// A website on [`SHOP`] (made with an owner's or admin's token).
    async fn website(&self, admin: &str, name: &str) -> Site {
        let site = self
            .ok(
                "POST",
                "/v1/websites",
                admin,
                Some(json!({"name": name, "settings": {"allowed_domains": ["shop.example.com"]}})),
            )
            .await;
        Site {
            id: site["id"].as_i64().unwrap(),
            key: site["key"].as_str().unwrap().to_string(),
        }
    }

    /// A visitor of the website `key`, as the widget makes one (a tracked visit, a page).
    async fn visitor(&self, key: &str) -> Actor {
        let (status, started) = self
            .call(
                "POST",
                &format!("/v1/widget/{key}/visitors"),
                None,
                Some(&json!({"page": {"url": format!("{SHOP}/")}, "consent": true})),
            )
            .await;
        assert_eq!(status, 200, "{started}");
        Actor {
            id: started["contact"]["id"].as_i64().unwrap(),
            token: started["token"].as_str().unwrap().to_string(),
        }
    }

    /// Mints one more token for `account` (with `minter`'s token); returns its id.
    async fn token_id(&self, minter: &str, account: i64) -> i64 {
        let name = unique("spare-token");
        self.ok(
            "POST",
            &format!("/v1/staff/{account}/tokens"),
            minter,
            Some(json!({"name": name})),
        )
        .await;
        let list = self
            .ok("GET", &format!("/v1/staff/{account}/tokens"), minter, None)
            .await;
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name.as_str())
            .and_then(|t| t["id"].as_i64())
            .unwrap()
    }
}

// ----- the world the rows run in --------------------------------------------------------------

struct Actor {
    id: i64,
    token: String,
}

/// A website: its id and its public key.
struct Site {
    id: i64,
    key: String,
}

/// The support conversation `S` (or a copy): customer, the participating agent and a spare
/// customer; a message by the customer, one by the spare customer, and a staff note.
struct Support {
    id: i64,
    by_customer: i64,
    by_spare: i64,
    note: i64,
}

/// The direct conversation `D` (or a copy): buyer, seller and a spare participant; two
/// messages, then the third party joins (`since_joined`), then one by the spare participant.
struct Direct {
    id: i64,
    pre_buyer: i64,
    pre_seller: i64,
    by_spare: i64,
}

/// Copies of `S`/`D`, or a waiting chat, for one cell or one row.
#[derive(Default)]
struct Fixture {
    s: Option<Support>,
    d: Option<Direct>,
    waiting: Option<i64>,
}

/// A signed-in staff session.
struct Session {
    id: i64,
    cookie: String,
    csrf: String,
}

struct World {
    server: Server,
    http: Http,
    owner: Actor,
    admin: Actor,
    agent: Actor,
    agent_in: Actor,
    customer: Actor,
    other: Actor,
    buyer: Actor,
    seller: Actor,
    third: Actor,
    spare: Actor,
    /// A contact in no conversation (to add, to mint tokens for).
    walkin: i64,
    /// An agent with a password and a signed-in session, in no role column.
    bystander: Actor,
    bystander_email: String,
    session: Session,
    gone: Actor,
    read_only: String,
    forged: String,
    b_owner: Actor,
    b_conv: i64,
    /// `W`, served by every agent, and `R`, only by the participating agent; a visitor of
    /// each.
    website: Site,
    restricted: Site,
    visitor: i64,
    restricted_visitor: i64,
    /// A team of workspace A (the participating agent is its member).
    team: i64,
    s: Support,
    d: Direct,
}

struct Req {
    path: String,
    body: Option<Value>,
}

fn req(path: impl Into<String>, body: Option<Value>) -> Req {
    Req {
        path: path.into(),
        body,
    }
}

/// Single sign-on settings, switched off (so nothing is discovered).
fn sso_settings() -> Value {
    json!({"issuer": "https://idp.example", "client_id": "natter", "client_secret": "s3cret",
           "enabled": false})
}

/// The token of the newest invitation or reset link mailed to `to`.
fn mailed_token(server: &Server, to: &str) -> String {
    let dir = server.stderr_log.parent().unwrap().join("mail");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .rev()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .find(|text| text.contains(&format!("To: {to}\r\n")))
        .and_then(|text| {
            let (_, rest) = text.split_once("#token=")?;
            Some(
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect(),
            )
        })
        .expect("a mailed link")
}

impl World {
    async fn build(backend: Backend) -> World {
        let server = Server::start_with(
            backend,
            &[
                ("NATTER_RATE_LIMITS_PASSWORD_RESETS_PER_IP", "0"),
                ("NATTER_RATE_LIMITS_LOGINS_PER_IP", "0"),
            ],
        )
        .await;
        let http = Http {
            base: server.base.clone(),
            client: reqwest::Client::new(),
        };
        let owner_token = server.token.clone();
        let me = http.ok("GET", "/v1/me", &owner_token, None).await;
        let owner = Actor {
            id: me["id"].as_i64().unwrap(),
            token: owner_token,
        };
        let o = owner.token.as_str();

        let admin = http.staff(o, "admin").await;
        let agent = http.staff(o, "agent").await;
        let agent_in = http.staff(o, "agent").await;
        let gone = http.staff(o, "agent").await;
        http.ok("DELETE", &format!("/v1/staff/{}", gone.id), o, None)
            .await;
        let read_only = http
            .ok(
                "POST",
                &format!("/v1/staff/{}/tokens", owner.id),
                o,
                Some(json!({"name": "read only", "scopes": ["read"]})),
            )
            .await["token"]
            .as_str()
            .unwrap()
            .to_string();

        let customer = http.contact(o, "customer").await;
        let other = http.contact(o, "other-customer").await;
        let buyer = http.contact(o, "buyer").await;
        let seller = http.contact(o, "seller").await;
        let third = http.contact(o, "third-party").await;
        let spare = http.contact(o, "spare").await;
        let walkin = http.contact(o, "walk-in").await.id;
        // A valid payload under a broken signature: claims to be the customer.
        let forged = {
            let (signed, mac) = customer.token.rsplit_once('.').unwrap();
            let flipped = if mac.starts_with('A') { 'B' } else { 'A' };
            format!("{signed}.{flipped}{}", &mac[1..])
        };

        // The bystander: invited, accepted with a password, signed in.
        let bystander_email = format!("{}@a.example", unique("bystander"));
        let invited = http
            .ok(
                "POST",
                "/v1/staff/invitations",
                o,
                Some(json!({"email": bystander_email, "role": "agent"})),
            )
            .await;
        let bystander_id = invited["id"].as_i64().unwrap();
        let link = mailed_token(&server, &bystander_email);
        let (status, body) = http
            .call(
                "POST",
                "/v1/auth/invitations/accept",
                None,
                Some(&json!({"token": link, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, 204, "{body}");
        let (status, signed_in, headers) = http
            .send(
                "POST",
                "/v1/auth/login",
                None,
                Some(&json!({"email": bystander_email, "password": PASSWORD})),
                &[],
            )
            .await;
        assert_eq!(status, 200, "{signed_in}");
        let cookie = headers
            .get(reqwest::header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let (status, sessions, _) = http
            .send(
                "GET",
                "/v1/auth/sessions",
                None,
                None,
                &[("cookie", cookie.clone())],
            )
            .await;
        assert_eq!(status, 200, "{sessions}");
        let session = Session {
            id: sessions[0]["id"].as_i64().unwrap(),
            cookie,
            csrf: signed_in["csrf_token"].as_str().unwrap().to_string(),
        };
        let bystander_token = http
            .ok(
                "POST",
                &format!("/v1/staff/{bystander_id}/tokens"),
                o,
                Some(json!({"name": "bystander"})),
            )
            .await["token"]
            .as_str()
            .unwrap()
            .to_string();

        // Workspace B, made the way an operator makes one.
        let out = server.run_cli(&[
            "admin",
            "create-workspace",
            "--name",
            "Workspace B",
            "--owner-email",
            "owner@b.example",
        ]);
        let created: Value = serde_json::from_str(out.trim().lines().last().unwrap()).unwrap();
        let b_owner = Actor {
            id: created["account_id"].as_i64().unwrap(),
            token: created["token"].as_str().unwrap().to_string(),
        };
        let b_contact = http.contact(&b_owner.token, "b-customer").await;
        for token in [o, b_owner.token.as_str()] {
            http.ok("PUT", "/v1/workspace/sso", token, Some(sso_settings()))
                .await;
        }
        let b_conv = http
            .ok(
                "POST",
                "/v1/conversations",
                &b_owner.token,
                Some(json!({"kind": "support", "participants": [
                    {"account_id": b_contact.id, "role": "customer"},
                    {"account_id": b_owner.id, "role": "agent"},
                ]})),
            )
            .await["conversation"]["id"]
            .as_i64()
            .unwrap();

        // Workspace A's websites: `W` for every agent, `R` for the participating agent only.
        let website = http.website(o, "Shop").await;
        let restricted = http.website(o, "Back office").await;
        http.ok(
            "PUT",
            &format!("/v1/websites/{}", restricted.id),
            o,
            Some(json!({"agents": {"all": false, "account_ids": [agent_in.id]}})),
        )
        .await;
        let visitor = http.visitor(&website.key).await.id;
        let restricted_visitor = http.visitor(&restricted.key).await.id;
        let team = http
            .ok(
                "POST",
                "/v1/teams",
                o,
                Some(json!({"name": "Tier 1", "policy": "least_loaded",
                            "members": [agent_in.id]})),
            )
            .await["id"]
            .as_i64()
            .unwrap();

        let mut world = World {
            server,
            http,
            owner,
            admin,
            agent,
            agent_in,
            customer,
            other,
            buyer,
            seller,
            third,
            spare,
            walkin,
            bystander: Actor {
                id: bystander_id,
                token: bystander_token,
            },
            bystander_email,
            session,
            gone,
            read_only,
            forged,
            b_owner,
            b_conv,
            website,
            restricted,
            visitor,
            restricted_visitor,
            team,
            s: Support {
                id: 0,
                by_customer: 0,
                by_spare: 0,
                note: 0,
            },
            d: Direct {
                id: 0,
                pre_buyer: 0,
                pre_seller: 0,
                by_spare: 0,
            },
        };
        world.s = world.support().await;
        world.d = world.direct().await;
        world
    }

    /// A new copy of `S`.
    async fn support(&self) -> Support {
        let o = self.owner.token.as_str();
        let id = self
            .http
            .ok(
                "POST",
                "/v1/conversations",
                o,
                Some(
                    json!({"kind": "support", "subject": "order 42", "participants": [
                        {"account_id": self.customer.id, "role": "customer"},
                        {"account_id": self.agent_in.id, "role": "agent"},
                        {"account_id": self.spare.id, "role": "customer"},
                    ]}),
                ),
            )
            .await["conversation"]["id"]
            .as_i64()
            .unwrap();
        let http = &self.http;
        Support {
            id,
            by_customer: http
                .message(&self.customer.token, id, "where is my order?", "text")
                .await,
            by_spare: http.message(&self.spare.token, id, "me too", "text").await,
            note: http
                .message(&self.agent_in.token, id, "internal: VIP, refund", "note")
                .await,
        }
    }

    /// A new copy of `D`.
    async fn direct(&self) -> Direct {
        let o = self.owner.token.as_str();
        let id = self
            .http
            .ok(
                "POST",
                "/v1/conversations",
                o,
                Some(
                    json!({"kind": "direct", "listing": {"title": "bike"}, "participants": [
                        {"account_id": self.buyer.id, "role": "buyer"},
                        {"account_id": self.seller.id, "role": "seller"},
                        {"account_id": self.spare.id, "role": "third_party"},
                    ]}),
                ),
            )
            .await["conversation"]["id"]
            .as_i64()
            .unwrap();
        let http = &self.http;
        let pre_buyer = http
            .message(&self.buyer.token, id, "my address is 1 Main St", "text")
            .await;
        let pre_seller = http
            .message(&self.seller.token, id, "shipping tomorrow", "text")
            .await;
        http.ok(
            "POST",
            &format!("/v1/conversations/{id}/participants"),
            o,
            Some(json!({"account_id": self.third.id, "role": "third_party",
                        "visibility": "since_joined"})),
        )
        .await;
        let by_spare = http
            .message(&self.spare.token, id, "courier here", "text")
            .await;
        Direct {
            id,
            pre_buyer,
            pre_seller,
            by_spare,
        }
    }

    /// A support chat a new contact opens now — or, with `website`'s key, a new visitor of
    /// that website. Nobody is online, so it waits in the queue.
    async fn waiting_chat(&self, website: Option<&str>) -> i64 {
        let contact = match website {
            Some(key) => self.http.visitor(key).await,
            None => self.http.contact(&self.owner.token, "waiting").await,
        };
        self.http
            .ok(
                "POST",
                "/v1/conversations",
                &contact.token,
                Some(json!({"kind": "support"})),
            )
            .await["conversation"]["id"]
            .as_i64()
            .unwrap()
    }

    async fn fixture(&self, case: Case) -> Fixture {
        match (case, case.conv()) {
            (_, Some(Conv::S)) => Fixture {
                s: Some(self.support().await),
                ..Fixture::default()
            },
            (_, Some(Conv::D)) => Fixture {
                d: Some(self.direct().await),
                ..Fixture::default()
            },
            (TakeWaiting, None) => Fixture {
                waiting: Some(self.waiting_chat(None).await),
                ..Fixture::default()
            },
            (TakeRestricted, None) => Fixture {
                waiting: Some(self.waiting_chat(Some(&self.restricted.key)).await),
                ..Fixture::default()
            },
            _ => Fixture::default(),
        }
    }

    /// The account behind a role with credentials of its own.
    fn actor(&self, role: Role) -> Option<&Actor> {
        match role {
            Role::Owner => Some(&self.owner),
            Role::Admin => Some(&self.admin),
            Role::Agent => Some(&self.agent),
            Role::AgentIn => Some(&self.agent_in),
            Role::Customer => Some(&self.customer),
            Role::OtherCustomer => Some(&self.other),
            Role::Buyer => Some(&self.buyer),
            Role::Seller => Some(&self.seller),
            Role::Third => Some(&self.third),
            Role::OtherWorkspace => Some(&self.b_owner),
            Role::Deactivated => Some(&self.gone),
            Role::Anonymous | Role::Garbage | Role::ReadOnly => None,
        }
    }

    fn token(&self, role: Role) -> Option<String> {
        match role {
            Role::Anonymous => None,
            Role::Garbage => Some(self.forged.clone()),
            Role::ReadOnly => Some(self.read_only.clone()),
            _ => self.actor(role).map(|a| a.token.clone()),
        }
    }

    /// The caller's own account id (the owner's for the read-only token; the owner's, as
    /// a plausible target, for callers without an account).
    fn account(&self, role: Role) -> i64 {
        self.actor(role).map_or(self.owner.id, |a| a.id)
    }

    /// A message of the caller's own in `conv` (posted now), or `fallback` for callers who
    /// cannot post there. The read-only token's own message is posted with the owner's
    /// full token.
    async fn own_message(&self, role: Role, which: Conv, conv: i64, fallback: i64) -> i64 {
        let poster = match role {
            Role::Owner | Role::ReadOnly => Some(&self.owner),
            Role::Admin => Some(&self.admin),
            Role::Agent => Some(&self.agent),
            Role::AgentIn => Some(&self.agent_in),
            r if r.is_contact() && participates(r, which) => self.actor(r),
            _ => None,
        };
        match poster {
            Some(actor) => {
                self.http
                    .message(&actor.token, conv, "my own words", "text")
                    .await
            }
            None => fallback,
        }
    }

    /// A token id of the caller's own (minted now); a bystander's for callers without API
    /// tokens.
    async fn own_token_id(&self, role: Role) -> i64 {
        let o = self.owner.token.as_str();
        match role {
            Role::Owner | Role::ReadOnly => self.http.token_id(o, self.owner.id).await,
            Role::Admin | Role::Agent | Role::AgentIn => {
                self.http.token_id(o, self.account(role)).await
            }
            Role::OtherWorkspace => {
                self.http
                    .token_id(&self.b_owner.token, self.b_owner.id)
                    .await
            }
            _ => self.http.token_id(o, self.bystander.id).await,
        }
    }

    /// Offers the conversation to `to`: by the owner, or by the admin when `to` is the owner.
    async fn offer(&self, conversation: i64, to: i64) {
        let by = if to == self.owner.id {
            &self.admin
        } else {
            &self.owner
        };
        self.http
            .ok(
                "POST",
                &format!("/v1/conversations/{conversation}/transfer"),
                &by.token,
                Some(json!({"to_agent": to})),
            )
            .await;
    }

    /// The request a row makes for `role`.
    async fn prepare(&self, case: Case, role: Role, fixture: &Fixture) -> Req {
        let me = self.account(role);
        let o = self.owner.token.as_str();
        let s = fixture.s.as_ref().unwrap_or(&self.s);
        let d = fixture.d.as_ref().unwrap_or(&self.d);
        let email = || format!("{}@a.example", unique("new"));
        let staff = |role: &'static str| async move { self.http.staff(o, role).await.id };
        let messages = |conv: i64| format!("/v1/conversations/{conv}/messages");
        let message = |conv: i64, id: i64| format!("/v1/conversations/{conv}/messages/{id}");
        let reaction = |conv: i64, id: i64| {
            format!("/v1/conversations/{conv}/messages/{id}/reactions/{THUMBS}")
        };
        let edit = Some(json!({"body": "edited"}));
        match case {
            Me => req("/v1/me", None),
            CreateAgent => req(
                "/v1/staff",
                Some(json!({"email": email(), "role": "agent"})),
            ),
            CreateOwner => req(
                "/v1/staff",
                Some(json!({"email": email(), "role": "owner"})),
            ),
            InviteAgent => req(
                "/v1/staff/invitations",
                Some(json!({"email": email(), "role": "agent"})),
            ),
            InviteOwner => req(
                "/v1/staff/invitations",
                Some(json!({"email": email(), "role": "owner"})),
            ),
            TokenForSelf => req(
                format!("/v1/staff/{me}/tokens"),
                Some(json!({"name": "mine"})),
            ),
            TokenForAgent => req(
                format!("/v1/staff/{}/tokens", self.bystander.id),
                Some(json!({"name": "theirs"})),
            ),
            TokenForOwner => req(
                format!("/v1/staff/{}/tokens", self.owner.id),
                Some(json!({"name": "the owner's"})),
            ),
            ListOwnTokens => req(format!("/v1/staff/{me}/tokens"), None),
            ListAgentTokens => req(format!("/v1/staff/{}/tokens", self.bystander.id), None),
            PromoteAgent => req(
                format!("/v1/staff/{}", staff("agent").await),
                Some(json!({"role": "admin"})),
            ),
            MakeOwner => req(
                format!("/v1/staff/{}", staff("agent").await),
                Some(json!({"role": "owner"})),
            ),
            DemoteOwner => req(
                format!("/v1/staff/{}", staff("owner").await),
                Some(json!({"role": "agent"})),
            ),
            RoleOfContact => req(
                format!("/v1/staff/{}", self.walkin),
                Some(json!({"role": "agent"})),
            ),
            DeactivateAgent => req(format!("/v1/staff/{}", staff("agent").await), None),
            DeactivateOwner => req(format!("/v1/staff/{}", staff("owner").await), None),
            DeactivateContact => req(format!("/v1/staff/{}", self.walkin), None),
            DeactivateSelf => req(format!("/v1/staff/{me}"), None),
            RevokeOwnToken => req(
                format!("/v1/tokens/{}", self.own_token_id(role).await),
                None,
            ),
            RevokeAgentToken => req(
                format!(
                    "/v1/tokens/{}",
                    self.http.token_id(o, self.bystander.id).await
                ),
                None,
            ),
            RevokeOwnerToken => req(
                format!("/v1/tokens/{}", self.http.token_id(o, self.owner.id).await),
                None,
            ),
            Security => req("/v1/workspace/security", None),
            SetSecurity => req(
                "/v1/workspace/security",
                Some(json!({"mfa_required": "none"})),
            ),
            SsoSettings => req("/v1/workspace/sso", None),
            SetSso => req("/v1/workspace/sso", Some(sso_settings())),
            ContactIdentity => req("/v1/workspace/contact-identity", None),
            SetContactIdentity => req(
                "/v1/workspace/contact-identity",
                Some(json!({"require_verified": false})),
            ),
            RotateHmacSecret => req("/v1/workspace/contact-identity/hmac-secret", None),
            Audit => req("/v1/audit", None),
            UpsertContact => req(
                "/v1/contacts",
                Some(json!({"external_id": unique("upserted"), "name": "New"})),
            ),
            ContactToken => req(format!("/v1/contacts/{}/tokens", self.walkin), None),
            ContactTokenForStaff => req(format!("/v1/contacts/{}/tokens", self.bystander.id), None),
            SecondFactor => req("/v1/auth/second-factor", Some(json!({"code": "123456"}))),
            CurrentSession => req("/v1/auth/session", None),
            Sessions => req("/v1/auth/sessions", None),
            RevokeSession => req(format!("/v1/auth/sessions/{}", self.session.id), None),
            ChangePassword => req(
                "/v1/auth/password",
                // The first owner has a password since first start; the other staff here have
                // none, so any current password passes for them.
                Some(
                    json!({"current_password": first_admin_password(&self.server),
                            "new_password": PASSWORD}),
                ),
            ),
            TotpSetup => req("/v1/auth/totp/setup", None),
            TotpEnable => req("/v1/auth/totp/enable", Some(json!({"code": "000000"}))),
            TotpDisable => req("/v1/auth/totp/disable", Some(json!({"code": "000000"}))),
            Logout => req("/v1/auth/logout", None),

            CreateSupport => req(
                "/v1/conversations",
                Some(json!({"kind": "support",
                            "participants": [{"account_id": self.walkin, "role": "customer"}]})),
            ),
            ContactOpensSupport => req("/v1/conversations", Some(json!({"kind": "support"}))),
            CreateDirect => req(
                "/v1/conversations",
                Some(json!({"kind": "direct", "participants": [
                    {"account_id": self.buyer.id, "role": "buyer"},
                    {"account_id": self.seller.id, "role": "seller"},
                ]})),
            ),
            List => req("/v1/conversations", None),
            ShowS => req(format!("/v1/conversations/{}", s.id), None),
            ShowD => req(format!("/v1/conversations/{}", d.id), None),
            UpdateS => req(
                format!("/v1/conversations/{}", s.id),
                Some(json!({"status": "pending"})),
            ),
            UpdateD => req(
                format!("/v1/conversations/{}", d.id),
                Some(json!({"status": "pending"})),
            ),
            AddToS => req(
                format!("/v1/conversations/{}/participants", s.id),
                Some(json!({"account_id": self.walkin, "role": "customer"})),
            ),
            AddToD => req(
                format!("/v1/conversations/{}/participants", d.id),
                Some(json!({"account_id": self.walkin, "role": "third_party"})),
            ),
            RemoveSpareS => req(
                format!("/v1/conversations/{}/participants/{}", s.id, self.spare.id),
                None,
            ),
            RemoveSpareD => req(
                format!("/v1/conversations/{}/participants/{}", d.id, self.spare.id),
                None,
            ),
            LeaveS => req(
                format!("/v1/conversations/{}/participants/{me}", s.id),
                None,
            ),
            LeaveD => req(
                format!("/v1/conversations/{}/participants/{me}", d.id),
                None,
            ),

            HistoryS => req(messages(s.id), None),
            HistoryD => req(messages(d.id), None),
            PostS => req(messages(s.id), Some(json!({"body": "hello"}))),
            PostD => req(messages(d.id), Some(json!({"body": "hello"}))),
            PostNoteS => req(
                messages(s.id),
                Some(json!({"body": "internal", "kind": "note"})),
            ),
            EditOwnS => {
                let m = self.own_message(role, Conv::S, s.id, s.by_spare).await;
                req(message(s.id, m), edit)
            }
            EditOwnD => {
                let m = self.own_message(role, Conv::D, d.id, d.by_spare).await;
                req(message(d.id, m), edit)
            }
            EditOthersS => req(message(s.id, s.by_spare), edit),
            EditOthersD => req(message(d.id, d.by_spare), edit),
            EditNoteS => req(message(s.id, s.note), edit),
            EditPreJoinD => req(message(d.id, d.pre_buyer), edit),
            DeleteOwnS => {
                let m = self.own_message(role, Conv::S, s.id, s.by_spare).await;
                req(message(s.id, m), None)
            }
            DeleteOwnD => {
                let m = self.own_message(role, Conv::D, d.id, d.by_spare).await;
                req(message(d.id, m), None)
            }
            DeleteOthersS => req(message(s.id, s.by_spare), None),
            DeleteOthersD => req(message(d.id, d.by_spare), None),
            DeleteNoteS => req(message(s.id, s.note), None),
            DeletePreJoinD => req(message(d.id, d.pre_buyer), None),
            ReactS | UnreactS => req(reaction(s.id, s.by_spare), None),
            ReactD | UnreactD => req(reaction(d.id, d.by_spare), None),
            ReactNoteS | UnreactNoteS => req(reaction(s.id, s.note), None),
            ReactPreJoinD | UnreactPreJoinD => req(reaction(d.id, d.pre_buyer), None),
            ReadS => req(
                format!("/v1/conversations/{}/read", s.id),
                Some(json!({"seq": 1})),
            ),
            ReadD => req(
                format!("/v1/conversations/{}/read", d.id),
                Some(json!({"seq": 1})),
            ),
            DeliveredS => req(
                format!("/v1/conversations/{}/delivered", s.id),
                Some(json!({"seq": 1})),
            ),
            DeliveredD => req(
                format!("/v1/conversations/{}/delivered", d.id),
                Some(json!({"seq": 1})),
            ),
            TypingS => req(format!("/v1/conversations/{}/typing", s.id), None),
            TypingD => req(format!("/v1/conversations/{}/typing", d.id), None),
            FrameSendS => req(
                "/v1/frames",
                Some(json!({"type": "send", "conversation_id": s.id, "body": "via frames"})),
            ),
            FrameSendD => req(
                "/v1/frames",
                Some(json!({"type": "send", "conversation_id": d.id, "body": "via frames"})),
            ),
            FramePing => req("/v1/frames", Some(json!({"type": "ping"}))),
            Events => req("/v1/events", None),

            Websites => req("/v1/websites", None),
            CreateWebsite => req("/v1/websites", Some(json!({"name": unique("site")}))),
            ShowWebsite => req(format!("/v1/websites/{}", self.website.id), None),
            ShowRestrictedWebsite => req(format!("/v1/websites/{}", self.restricted.id), None),
            UpdateWebsite => req(
                format!("/v1/websites/{}", self.website.id),
                Some(json!({"name": "Shop"})),
            ),
            DeleteWebsite => req(
                format!("/v1/websites/{}", self.http.website(o, "doomed").await.id),
                None,
            ),
            RotateWebsiteSecret => req(
                format!("/v1/websites/{}/hmac-secret", self.website.id),
                None,
            ),
            LiveVisitors => req(format!("/v1/websites/{}/visitors", self.website.id), None),
            RestrictedLiveVisitors => req(
                format!("/v1/websites/{}/visitors", self.restricted.id),
                None,
            ),
            VisitorContext => req(format!("/v1/contacts/{}/context", self.visitor), None),
            RestrictedVisitorContext => req(
                format!("/v1/contacts/{}/context", self.restricted_visitor),
                None,
            ),
            StaffContext => req(format!("/v1/contacts/{}/context", self.bystander.id), None),
            Inbox => req("/v1/inbox", None),
            WidgetIdentify | WidgetProfile | WidgetPageView | WidgetActivity | WidgetTrack
            | WidgetOffline => {
                let (call, body) = widget_call(case);
                req(
                    format!("/v1/widget/{}/{call}", self.website.key),
                    Some(body),
                )
            }

            Queue => req("/v1/queue", None),
            TakeWaiting | TakeRestricted => req(
                format!(
                    "/v1/queue/{}/take",
                    fixture.waiting.expect("a waiting chat")
                ),
                None,
            ),
            TakeNotWaiting => req(format!("/v1/queue/{}/take", s.id), None),
            Agents => req("/v1/agents", None),
            SetOwnState => req(
                format!("/v1/agents/{me}/state"),
                Some(json!({"status": "away", "capacity": 4, "skills": ["billing"]})),
            ),
            SetAgentState => req(
                format!("/v1/agents/{}/state", self.bystander.id),
                Some(json!({"status": "offline", "capacity": 3})),
            ),
            SetContactState => req(
                format!("/v1/agents/{}/state", self.walkin),
                Some(json!({"status": "offline"})),
            ),
            Teams => req("/v1/teams", None),
            CreateTeam => req(
                "/v1/teams",
                Some(json!({"name": unique("team"), "policy": "manual"})),
            ),
            UpdateTeam => req(
                format!("/v1/teams/{}", self.team),
                Some(json!({"name": "Tier 1", "policy": "round_robin"})),
            ),
            Rules => req("/v1/routing/rules", None),
            SetRules => req(
                "/v1/routing/rules",
                Some(json!([{"when": {"keyword": "refund"}, "priority": "high",
                             "needs": ["billing"]}])),
            ),
            TransferToTeam => req(
                format!("/v1/conversations/{}/transfer", s.id),
                Some(json!({"to_team": self.team})),
            ),
            TransferToAgent => req(
                format!("/v1/conversations/{}/transfer", s.id),
                Some(json!({"to_agent": self.bystander.id, "note": "a billing question"})),
            ),
            AcceptOwnOffer | DeclineOwnOffer | AcceptOthersOffer | DeclineOthersOffer => {
                let to = match (case, role) {
                    (AcceptOthersOffer | DeclineOthersOffer, _) => self.bystander.id,
                    (_, Role::Admin | Role::Agent | Role::AgentIn) => me,
                    // The owner (and its read-only token); callers who can receive no offer.
                    _ => self.owner.id,
                };
                self.offer(s.id, to).await;
                let answer = if matches!(case, AcceptOwnOffer | AcceptOthersOffer) {
                    "accept"
                } else {
                    "decline"
                };
                req(
                    format!("/v1/conversations/{}/transfer/{answer}", s.id),
                    None,
                )
            }

            InboxCounts => req("/v1/inbox/counts", None),
            Labels => req("/v1/labels", None),
            SetLabelsS => req(
                format!("/v1/conversations/{}/labels", s.id),
                Some(json!({"labels": ["VIP", "vip", "billing"]})),
            ),
            BulkLabelS => req(
                "/v1/conversations/bulk",
                Some(json!({"conversation_ids": [s.id], "action": "label", "label": "bulk"})),
            ),
            CannedList => req("/v1/canned-responses", None),
            CreatePersonalCanned | CreateSharedCanned => req(
                "/v1/canned-responses",
                Some(
                    json!({"shortcut": unique("mine"), "title": "Hello", "body": "Hi there",
                            "shared": case == CreateSharedCanned}),
                ),
            ),
            UpdateSharedCanned | UpdateOthersCanned | DeleteSharedCanned | DeleteOthersCanned => {
                // Each cell gets its own response: a delete must not find it gone already.
                let (by, shared) = match case {
                    UpdateSharedCanned | DeleteSharedCanned => (o, true),
                    _ => (self.bystander.token.as_str(), false),
                };
                let created = self
                    .http
                    .ok(
                        "POST",
                        "/v1/canned-responses",
                        by,
                        Some(json!({"shortcut": unique("c"), "title": "T", "body": "B",
                                    "shared": shared})),
                    )
                    .await;
                let body = matches!(case, UpdateSharedCanned | UpdateOthersCanned)
                    .then(|| json!({"title": "Changed"}));
                req(format!("/v1/canned-responses/{}", created["id"]), body)
            }
            EditContact => req(
                format!("/v1/contacts/{}", self.customer.id),
                Some(json!({"phone": "+44 20 7946 0000", "company": "Acme"})),
            ),
            Preferences => req("/v1/me/preferences", None),
            EditMe => req(
                "/v1/me",
                Some(json!({"avatar_url": "https://cdn.example.com/staff/me.png"})),
            ),
            SetPreferences => req(
                "/v1/me/preferences",
                Some(json!({"desktop": false, "volume": 30, "muted_until": null,
                            "sounds": {"new_conversation": true, "new_message": false,
                                       "assigned": true},
                            "quiet_hours": {"start": "22:00", "end": "07:00",
                                            "time_zone": "Europe/London"},
                            "muted_conversations": [s.id]})),
            ),
        }
    }

    /// Runs one cell; returns what disagrees with the table.
    async fn cell(&self, row: &Row, role: Role, expect: X, shared: &Fixture) -> Vec<String> {
        let (method, template) = row.endpoint.split_once(' ').unwrap();
        let own;
        let fixture = if expect == A && row.case.fresh() {
            own = self.fixture(row.case).await;
            &own
        } else {
            shared
        };
        let request = self.prepare(row.case, role, fixture).await;
        assert!(
            matches_template(template, &request.path),
            "{:?} built {} for {}",
            row.case,
            request.path,
            row.endpoint
        );
        let token = self.token(role);
        let (status, body) = self
            .http
            .call(
                method,
                &request.path,
                token.as_deref(),
                request.body.as_ref(),
            )
            .await;
        let mut out = Vec::new();
        if !expect.accepts(status, &body) {
            out.push(format!(
                "{} [{:?}] as {}: got {status} {}, expected {}",
                row.endpoint,
                row.case,
                role.label(),
                short(&body),
                expect.describe()
            ));
        }
        // A contact refused on a conversation it is not in must get the answer it gets for
        // a conversation that does not exist, or the refusal reveals that it exists.
        if role.is_contact()
            && expect == F
            && let Some(conv) = row.case.conv()
            && !participates(role, conv)
        {
            let (ghost_path, ghost_request) = ghost(&request);
            let (ghost_status, ghost_body) = self
                .http
                .call(
                    method,
                    &ghost_path,
                    token.as_deref(),
                    ghost_request.as_ref(),
                )
                .await;
            if (ghost_status, &ghost_body["code"]) != (status, &body["code"]) {
                out.push(format!(
                    "{} [{:?}] as {}: an existing conversation answers {status} {} but a \
                     missing one {ghost_status} {}: the answer reveals existence",
                    row.endpoint,
                    row.case,
                    role.label(),
                    body["code"],
                    ghost_body["code"]
                ));
            }
        }
        out
    }

    /// Runs rows in order (the cells of a row concurrently); returns every disagreement.
    async fn run(&self, rows: &[Row]) -> Vec<String> {
        let mut failures = Vec::new();
        for row in rows {
            let shared = if row.case.fresh() {
                self.fixture(row.case).await
            } else {
                Fixture::default()
            };
            let shared = &shared;
            let cells = ROLES
                .iter()
                .zip(row.expect)
                .map(|(&role, expect)| self.cell(row, role, expect, shared));
            failures.extend(join_all(cells).await.into_iter().flatten());
        }
        failures
    }
}

/// A widget row's call (the path after `/v1/widget/{key}/`) with a valid body.
fn widget_call(case: Case) -> (&'static str, Value) {
    match case {
        WidgetIdentify => (
            "identify",
            json!({"user_id": unique("visitor"), "name": "Ann"}),
        ),
        WidgetProfile => (
            "profile",
            json!({"name": "Ann", "phone": "+44 20 7946 0000"}),
        ),
        WidgetPageView => ("pageviews", json!({"url": format!("{SHOP}/cart")})),
        WidgetActivity => ("activity", json!({"exit_intent": true})),
        WidgetTrack => (
            "events",
            json!({"name": "purchase", "value": 42.5, "currency": "GBP"}),
        ),
        WidgetOffline => (
            "offline",
            json!({"email": "ann@example.com", "message": "call me back"}),
        ),
        _ => unreachable!("{case:?} is not a widget row"),
    }
}

/// The request with its conversation id replaced by one that does not exist.
fn ghost(request: &Req) -> (String, Option<Value>) {
    let mut segments: Vec<String> = request.path.split('/').map(str::to_string).collect();
    if request.path.starts_with("/v1/conversations/") {
        segments[3] = GHOST.to_string();
    }
    let mut body = request.body.clone();
    if let Some(b) = body.as_mut()
        && b.get("conversation_id").is_some()
    {
        b["conversation_id"] = json!(GHOST);
    }
    (segments.join("/"), body)
}

/// Does a concrete path fit an OpenAPI path template?
fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

fn short(body: &Value) -> String {
    let text = body.to_string();
    if text.len() > 160 {
        format!("{}…", &text[..text.floor_char_boundary(160)])
    } else {
        text
    }
}

fn report(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} cell(s) of the authorization matrix disagree with the server:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

async fn openapi_operations(server: &Server) -> BTreeSet<String> {
    let doc: Value = reqwest::get(format!("{}/openapi.json", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                operations.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations
}

// ----- coverage -------------------------------------------------------------------------------

both_backends!(
    every_endpoint_of_the_openapi_document_is_in_the_matrix_or_public_by_design,
    every_endpoint_of_the_openapi_document_is_in_the_matrix_or_public_by_design
);
async fn every_endpoint_of_the_openapi_document_is_in_the_matrix_or_public_by_design(
    backend: Backend,
) {
    let server = Server::start(backend).await;
    let known = matrix_endpoints();
    let unknown: Vec<String> = openapi_operations(&server)
        .await
        .into_iter()
        .filter(|op| !known.contains(op))
        .collect();
    assert!(
        unknown.is_empty(),
        "endpoints missing from the authorization matrix (add rows, or a PUBLIC entry with \
         its reason): {unknown:#?}"
    );

    // The table is well formed: a workspace-B caller using a workspace-A id gets 404 on
    // every endpoint that takes an id.
    for row in all_rows() {
        let (method, path) = row.endpoint.split_once(' ').unwrap();
        assert!(
            ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method),
            "{}",
            row.endpoint
        );
        if path.contains('{') && !row.case.uses_own_id() && !row.case.uses_public_key() {
            assert_eq!(row.expect[11], N, "{} [{:?}]", row.endpoint, row.case);
        }
        assert_eq!(
            (row.expect[9], row.expect[10], row.expect[13]),
            (U, U, U),
            "anonymous, tampered and deactivated callers are unauthenticated: {}",
            row.endpoint
        );
    }

    // What is public answers anonymous callers (and reveals nothing).
    let http = Http {
        base: server.base.clone(),
        client: reqwest::Client::new(),
    };
    for entry in PUBLIC {
        let Some(path) = entry.path else { continue };
        let (method, _) = entry.endpoint.split_once(' ').unwrap();
        let body: Option<Value> = entry.body.map(|b| serde_json::from_str(b).unwrap());
        let (got, answer) = http.call(method, path, None, body.as_ref()).await;
        assert_eq!(
            got, entry.status,
            "{} ({}): {answer}",
            entry.endpoint, entry.why
        );
    }
}

both_backends!(
    every_route_in_the_matrix_is_in_the_openapi_document,
    every_route_in_the_matrix_is_in_the_openapi_document
);
/// The coverage check above only sees what the document lists, so the document must list
/// every route a client can call.
async fn every_route_in_the_matrix_is_in_the_openapi_document(backend: Backend) {
    let server = Server::start(backend).await;
    let documented = openapi_operations(&server).await;
    let missing: Vec<String> = matrix_endpoints()
        .into_iter()
        .filter(|op| !documented.contains(op) && !UNDOCUMENTED_BY_DESIGN.contains(&op.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes the server serves but /openapi.json does not list: {missing:#?}"
    );
}

// ----- the HTTP matrix ------------------------------------------------------------------------

both_backends!(
    staff_token_contact_and_workspace_endpoints_answer_each_role_as_the_matrix_says,
    staff_token_contact_and_workspace_endpoints_answer_each_role_as_the_matrix_says
);
async fn staff_token_contact_and_workspace_endpoints_answer_each_role_as_the_matrix_says(
    backend: Backend,
) {
    let world = World::build(backend).await;
    let mut failures = world.run(STAFF_ROWS).await;

    // A session cookie is its account's credential and nobody else's: it works for its
    // own account, its writes need the CSRF token, and only its owner can end it.
    let http = &world.http;
    let cookie = ("cookie", world.session.cookie.clone());
    let csrf = ("x-csrf-token", world.session.csrf.clone());
    let contact = json!({"external_id": unique("by-session")});
    let own_session = format!("/v1/auth/sessions/{}", world.session.id);
    let checks = [
        ("GET", "/v1/auth/session", None, vec![cookie.clone()], 200),
        ("GET", "/v1/audit", None, vec![cookie.clone()], 403),
        (
            "POST",
            "/v1/contacts",
            Some(contact.clone()),
            vec![cookie.clone()],
            403,
        ),
        (
            "POST",
            "/v1/contacts",
            Some(contact),
            vec![cookie.clone(), csrf.clone()],
            200,
        ),
        (
            "DELETE",
            own_session.as_str(),
            None,
            vec![cookie.clone(), csrf.clone()],
            204,
        ),
    ];
    for (method, path, body, headers, expected) in checks {
        let (status, answer, _) = http.send(method, path, None, body.as_ref(), &headers).await;
        if status != expected {
            failures.push(format!(
                "{method} {path} with {}'s session cookie: got {status} {}, expected {expected}",
                world.bystander_email,
                short(&answer)
            ));
        }
    }
    let (status, _, _) = http
        .send("GET", "/v1/auth/session", None, None, &[cookie])
        .await;
    if status != 401 {
        failures.push(format!("a revoked session still answers {status}"));
    }

    // A contact's external id is scoped to its workspace: workspace B upserting the same
    // external id makes its own contact and leaves workspace A's alone.
    let me = http.ok("GET", "/v1/me", &world.customer.token, None).await;
    let upserted = http
        .ok(
            "POST",
            "/v1/contacts",
            &world.b_owner.token,
            Some(json!({"external_id": me["external_id"], "name": "hijacked"})),
        )
        .await;
    let after = http.ok("GET", "/v1/me", &world.customer.token, None).await;
    if upserted["id"] == me["id"] || after["name"] != me["name"] {
        failures.push(format!(
            "workspace B upserting workspace A's external id reached A's contact: {upserted}"
        ));
    }

    // Each workspace's audit log holds only its own entries.
    for owner in [&world.owner, &world.b_owner] {
        let workspace = http.ok("GET", "/v1/me", &owner.token, None).await["workspace_id"].clone();
        let entries = http
            .ok("GET", "/v1/audit?limit=200", &owner.token, None)
            .await;
        let entries = entries.as_array().unwrap();
        if entries.is_empty() || entries.iter().any(|e| e["workspace_id"] != workspace) {
            failures.push(format!(
                "the audit log of workspace {workspace} is empty or holds another's entries"
            ));
        }
    }
    report(&failures);
}

both_backends!(
    conversation_endpoints_answer_each_role_as_the_matrix_says,
    conversation_endpoints_answer_each_role_as_the_matrix_says
);
async fn conversation_endpoints_answer_each_role_as_the_matrix_says(backend: Backend) {
    let world = World::build(backend).await;
    let mut failures = Vec::new();

    // Lists hold only what the caller takes part in.
    let (s, d, b) = (world.s.id, world.d.id, world.b_conv);
    for (role, includes, excludes) in [
        (Role::Customer, vec![s], vec![d, b]),
        (Role::OtherCustomer, vec![], vec![s, d, b]),
        (Role::Buyer, vec![d], vec![s, b]),
        (Role::Third, vec![d], vec![s, b]),
        (Role::Agent, vec![], vec![s, d, b]),
        (Role::AgentIn, vec![s], vec![d, b]),
        (Role::OtherWorkspace, vec![b], vec![s, d]),
    ] {
        let token = world.token(role);
        let (status, list) = world
            .http
            .call("GET", "/v1/conversations", token.as_deref(), None)
            .await;
        assert_eq!(status, 200, "{list}");
        let ids: Vec<i64> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["conversation"]["id"].as_i64())
            .collect();
        for id in includes {
            if !ids.contains(&id) {
                failures.push(format!("{}'s list lacks conversation {id}", role.label()));
            }
        }
        for id in excludes {
            if ids.contains(&id) {
                failures.push(format!("{}'s list shows conversation {id}", role.label()));
            }
        }
    }

    // Ids of another workspace in a body are unknown too.
    let b_token = world.b_owner.token.as_str();
    for (path, body) in [
        (
            "/v1/conversations".to_string(),
            json!({"kind": "support",
                   "participants": [{"account_id": world.customer.id, "role": "customer"}]}),
        ),
        (
            format!("/v1/conversations/{b}/participants"),
            json!({"account_id": world.customer.id, "role": "customer"}),
        ),
    ] {
        let (status, answer) = world
            .http
            .call("POST", &path, Some(b_token), Some(&body))
            .await;
        if !N.accepts(status, &answer) {
            failures.push(format!(
                "POST {path} by workspace B with a workspace-A account: got {status} {}, \
                 expected 404 not_found",
                short(&answer)
            ));
        }
    }

    // A contact who left reads and writes nothing more there.
    let left = world.support().await;
    world
        .http
        .ok(
            "DELETE",
            &format!(
                "/v1/conversations/{}/participants/{}",
                left.id, world.customer.id
            ),
            &world.customer.token,
            None,
        )
        .await;
    for (method, path, body) in [
        ("GET", format!("/v1/conversations/{}", left.id), None),
        (
            "GET",
            format!("/v1/conversations/{}/messages", left.id),
            None,
        ),
        (
            "POST",
            format!("/v1/conversations/{}/messages", left.id),
            Some(json!({"body": "still here?"})),
        ),
        (
            "PUT",
            format!(
                "/v1/conversations/{}/messages/{}/reactions/{THUMBS}",
                left.id, left.by_spare
            ),
            None,
        ),
        (
            "POST",
            format!("/v1/conversations/{}/read", left.id),
            Some(json!({"seq": 1})),
        ),
        (
            "POST",
            format!("/v1/conversations/{}/typing", left.id),
            None,
        ),
    ] {
        let (status, answer) = world
            .http
            .call(method, &path, Some(&world.customer.token), body.as_ref())
            .await;
        if !N.accepts(status, &answer) {
            failures.push(format!(
                "{method} {path} by the customer after it left: got {status} {}, expected \
                 404 not_found",
                short(&answer)
            ));
        }
    }

    failures.extend(world.run(CONVERSATION_ROWS).await);

    // `identify` is public: it must not hand out a verified contact without proof, nor
    // make contacts in a workspace that does not exist.
    let me = world
        .http
        .ok("GET", "/v1/me", &world.customer.token, None)
        .await;
    let workspace = me["workspace_id"].as_i64().unwrap();
    for (body, expect) in [
        (
            json!({"workspace_id": workspace, "user_id": me["external_id"]}),
            F,
        ),
        (json!({"workspace_id": GHOST}), N),
    ] {
        let (status, answer) = world
            .http
            .call("POST", "/v1/contacts/identify", None, Some(&body))
            .await;
        if !expect.accepts(status, &answer) {
            failures.push(format!(
                "POST /v1/contacts/identify {body} anonymously: got {status} {}, expected {}",
                short(&answer),
                expect.describe()
            ));
        }
    }

    // Where the workspace requires verified contacts, an unverified one (a visitor who
    // identified before the switch) can neither open a conversation nor post.
    let visitor = world
        .http
        .call(
            "POST",
            "/v1/contacts/identify",
            None,
            Some(&json!({"workspace_id": workspace, "name": "visitor"})),
        )
        .await
        .1["token"]
        .as_str()
        .unwrap()
        .to_string();
    let visitor_conv = world
        .http
        .ok(
            "POST",
            "/v1/conversations",
            &visitor,
            Some(json!({"kind": "support"})),
        )
        .await["conversation"]["id"]
        .as_i64()
        .unwrap();
    world
        .http
        .ok(
            "PUT",
            "/v1/workspace/contact-identity",
            &world.owner.token,
            Some(json!({"require_verified": true})),
        )
        .await;
    for (path, body) in [
        ("/v1/conversations".to_string(), json!({"kind": "support"})),
        (
            format!("/v1/conversations/{visitor_conv}/messages"),
            json!({"body": "hello?"}),
        ),
    ] {
        let (status, answer) = world
            .http
            .call("POST", &path, Some(&visitor), Some(&body))
            .await;
        if !F.accepts(status, &answer) {
            failures.push(format!(
                "POST {path} by an unverified contact where verification is required: got \
                 {status} {}, expected 403 forbidden",
                short(&answer)
            ));
        }
    }
    report(&failures);
}

both_backends!(
    message_receipt_typing_and_transport_endpoints_answer_each_role_as_the_matrix_says,
    message_receipt_typing_and_transport_endpoints_answer_each_role_as_the_matrix_says
);
async fn message_receipt_typing_and_transport_endpoints_answer_each_role_as_the_matrix_says(
    backend: Backend,
) {
    let world = World::build(backend).await;
    let mut failures = Vec::new();

    // History shows each caller what it may see: no notes for contacts, nothing from
    // before a since_joined participant joined.
    let history = |role: Role, conv: i64| {
        let token = world.token(role);
        let http = world.http.clone();
        async move {
            let (status, page) = http
                .call(
                    "GET",
                    &format!("/v1/conversations/{conv}/messages"),
                    token.as_deref(),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{page}");
            page.as_array()
                .unwrap()
                .iter()
                .filter_map(|m| m["id"].as_i64())
                .collect::<Vec<i64>>()
        }
    };
    let (s, d) = (&world.s, &world.d);
    for (role, conv, sees, hidden) in [
        (
            Role::Agent,
            s.id,
            vec![s.by_customer, s.by_spare, s.note],
            vec![],
        ),
        (
            Role::Customer,
            s.id,
            vec![s.by_customer, s.by_spare],
            vec![s.note],
        ),
        (
            Role::Buyer,
            d.id,
            vec![d.pre_buyer, d.pre_seller, d.by_spare],
            vec![],
        ),
        (
            Role::Third,
            d.id,
            vec![d.by_spare],
            vec![d.pre_buyer, d.pre_seller],
        ),
    ] {
        let ids = history(role, conv).await;
        for id in sees {
            if !ids.contains(&id) {
                failures.push(format!("{} does not see message {id}", role.label()));
            }
        }
        for id in hidden {
            if ids.contains(&id) {
                failures.push(format!("{} sees message {id}", role.label()));
            }
        }
    }

    // A message id is found only under its own conversation: another conversation's id in
    // the path (even one the caller may act in, even another workspace's) finds nothing.
    let other = world.direct().await;
    let b = world.b_conv;
    let b_token = world.b_owner.token.clone();
    let owner = world.owner.token.clone();
    let customer = world.customer.token.clone();
    let mixed = [
        (
            &b_token,
            "PATCH",
            format!("/v1/conversations/{b}/messages/{}", s.by_spare),
        ),
        (
            &b_token,
            "DELETE",
            format!("/v1/conversations/{b}/messages/{}", s.by_spare),
        ),
        (
            &b_token,
            "PUT",
            format!(
                "/v1/conversations/{b}/messages/{}/reactions/{THUMBS}",
                s.by_spare
            ),
        ),
        (
            &b_token,
            "DELETE",
            format!("/v1/conversations/{b}/participants/{}", world.customer.id),
        ),
        (
            &customer,
            "PATCH",
            format!("/v1/conversations/{}/messages/{}", s.id, d.pre_buyer),
        ),
        (
            &customer,
            "PUT",
            format!(
                "/v1/conversations/{}/messages/{}/reactions/{THUMBS}",
                s.id, d.pre_buyer
            ),
        ),
        (
            &owner,
            "DELETE",
            format!("/v1/conversations/{}/messages/{}", s.id, other.by_spare),
        ),
        (
            &owner,
            "PATCH",
            format!("/v1/conversations/{}/messages/{}", s.id, other.by_spare),
        ),
    ];
    for (token, method, path) in mixed {
        let body = (method == "PATCH").then(|| json!({"body": "edited"}));
        let (status, answer) = world
            .http
            .call(method, &path, Some(token), body.as_ref())
            .await;
        if !N.accepts(status, &answer) {
            failures.push(format!(
                "{method} {path} (ids of different conversations): got {status} {}, expected \
                 404 not_found",
                short(&answer)
            ));
        }
    }

    failures.extend(world.run(MESSAGE_ROWS).await);
    report(&failures);
}

both_backends!(
    website_inbox_and_widget_endpoints_answer_each_role_as_the_matrix_says,
    website_inbox_and_widget_endpoints_answer_each_role_as_the_matrix_says
);
async fn website_inbox_and_widget_endpoints_answer_each_role_as_the_matrix_says(backend: Backend) {
    let world = World::build(backend).await;
    let mut failures = Vec::new();

    // Lists hold only the websites of the caller's workspace that it serves.
    let (w, r) = (world.website.id, world.restricted.id);
    let b = world
        .http
        .website(&world.b_owner.token, "B's shop")
        .await
        .id;
    for (role, includes, excludes) in [
        (Role::Admin, vec![w, r], vec![b]),
        (Role::Agent, vec![w], vec![r, b]),
        (Role::AgentIn, vec![w, r], vec![b]),
        (Role::OtherWorkspace, vec![b], vec![w, r]),
    ] {
        let list = world
            .http
            .ok("GET", "/v1/websites", &world.token(role).unwrap(), None)
            .await;
        let ids: Vec<i64> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|site| site["id"].as_i64())
            .collect();
        if includes.iter().any(|id| !ids.contains(id)) || excludes.iter().any(|id| ids.contains(id))
        {
            failures.push(format!(
                "{}'s websites are {ids:?}: expected {includes:?}, not {excludes:?}",
                role.label()
            ));
        }
    }

    // Accounts of workspace A are unknown to workspace B in a website's agents too.
    let (status, answer) = world
        .http
        .call(
            "PUT",
            &format!("/v1/websites/{b}"),
            Some(&world.b_owner.token),
            Some(&json!({"agents": {"all": false, "account_ids": [world.agent.id]}})),
        )
        .await;
    if !N.accepts(status, &answer) {
        failures.push(format!(
            "PUT /v1/websites/{b} by workspace B naming a workspace-A agent: got {status} {}, \
             expected 404 not_found",
            short(&answer)
        ));
    }

    // The widget's public endpoints answer anyone on the website's pages, or sending no
    // Origin (servers, native apps); a page elsewhere is refused.
    let key = &world.website.key;
    for (method, path, body) in [
        ("GET", format!("/v1/widget/{key}"), None),
        (
            "POST",
            format!("/v1/widget/{key}/visitors"),
            Some(json!({})),
        ),
    ] {
        for (origin, expect) in [
            (None, A),
            (Some(SHOP), A),
            (Some(ELSEWHERE), X::Deny(403, "origin_not_allowed")),
        ] {
            let headers: Vec<(&str, String)> = origin
                .map(|o| ("origin", o.to_string()))
                .into_iter()
                .collect();
            let (status, answer, _) = world
                .http
                .send(method, &path, None, body.as_ref(), &headers)
                .await;
            if !expect.accepts(status, &answer) {
                failures.push(format!(
                    "{method} {path} anonymously from {origin:?}: got {status} {}, expected {}",
                    short(&answer),
                    expect.describe()
                ));
            }
        }
    }

    failures.extend(world.run(WEBSITE_ROWS).await);
    report(&failures);
}

both_backends!(
    queue_agent_team_and_routing_rule_endpoints_answer_each_role_as_the_matrix_says,
    queue_agent_team_and_routing_rule_endpoints_answer_each_role_as_the_matrix_says
);
async fn queue_agent_team_and_routing_rule_endpoints_answer_each_role_as_the_matrix_says(
    backend: Backend,
) {
    let world = World::build(backend).await;
    let http = &world.http;
    let mut failures = Vec::new();

    // Every staff caller records that it is offline: a chat taken by hand marks a taker with
    // no recorded state online, and the chats other cells are about to take would then be
    // assigned to it before they could take them.
    for role in [Role::Owner, Role::Admin, Role::Agent, Role::AgentIn] {
        http.ok(
            "PUT",
            &format!("/v1/agents/{}/state", world.account(role)),
            &world.token(role).unwrap(),
            Some(json!({"status": "offline"})),
        )
        .await;
    }

    // Lists hold only the caller's workspace (and, for an agent, the websites it serves).
    let b_token = world.b_owner.token.as_str();
    let plain = world.waiting_chat(None).await;
    let restricted = world.waiting_chat(Some(&world.restricted.key)).await;
    let b_contact = http.contact(b_token, "b-waiting").await;
    let b_waiting = http
        .ok(
            "POST",
            "/v1/conversations",
            &b_contact.token,
            Some(json!({"kind": "support"})),
        )
        .await["conversation"]["id"]
        .as_i64()
        .unwrap();
    let b_team = http
        .ok(
            "POST",
            "/v1/teams",
            b_token,
            Some(json!({"name": "B team", "members": [world.b_owner.id]})),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    http.ok(
        "PUT",
        "/v1/routing/rules",
        &world.owner.token,
        Some(json!([{"when": {"keyword": "a-only"}, "team_id": world.team}])),
    )
    .await;
    let (a_staff, b_staff) = (
        vec![world.owner.id, world.agent.id, world.bystander.id],
        vec![world.b_owner.id],
    );
    let ids = |list: &Value, field: &str| -> Vec<i64> {
        list.as_array()
            .unwrap()
            .iter()
            .filter_map(|item| item[field].as_i64())
            .collect()
    };
    // path, the field of an item's id, caller, ids it must see, ids it must not.
    #[rustfmt::skip]
    let lists = [
        ("/v1/queue",         "conversation_id", Role::Owner,          vec![plain, restricted], vec![b_waiting]),
        ("/v1/queue",         "conversation_id", Role::ReadOnly,       vec![plain, restricted], vec![b_waiting]),
        ("/v1/queue",         "conversation_id", Role::Agent,          vec![plain],             vec![restricted, b_waiting]),
        ("/v1/queue",         "conversation_id", Role::AgentIn,        vec![plain, restricted], vec![b_waiting]),
        ("/v1/queue",         "conversation_id", Role::OtherWorkspace, vec![b_waiting],         vec![plain, restricted]),
        ("/v1/agents",        "account_id",      Role::Agent,          a_staff.clone(),         b_staff.clone()),
        ("/v1/agents",        "account_id",      Role::OtherWorkspace, b_staff,                 a_staff),
        ("/v1/teams",         "id",              Role::Agent,          vec![world.team],        vec![b_team]),
        ("/v1/teams",         "id",              Role::OtherWorkspace, vec![b_team],            vec![world.team]),
        ("/v1/routing/rules", "team_id",         Role::Agent,          vec![world.team],        vec![]),
        ("/v1/routing/rules", "team_id",         Role::OtherWorkspace, vec![],                  vec![world.team]),
    ];
    for (path, field, role, includes, excludes) in lists {
        let list = http
            .ok("GET", path, &world.token(role).unwrap(), None)
            .await;
        let got = ids(&list, field);
        if includes.iter().any(|id| !got.contains(id)) || excludes.iter().any(|id| got.contains(id))
        {
            failures.push(format!(
                "GET {path} as {}: {field}s {got:?}, expected {includes:?}, not {excludes:?}",
                role.label()
            ));
        }
    }

    // Ids of workspace A in a body are unknown to workspace B.
    for (method, path, body) in [
        (
            "POST",
            "/v1/teams".to_string(),
            json!({"name": "poached", "members": [world.agent.id]}),
        ),
        (
            "PUT",
            format!("/v1/teams/{b_team}"),
            json!({"members": [world.agent.id]}),
        ),
        (
            "PUT",
            "/v1/routing/rules".to_string(),
            json!([{"when": "always", "team_id": world.team}]),
        ),
    ] {
        let (status, answer) = http.call(method, &path, Some(b_token), Some(&body)).await;
        if !N.accepts(status, &answer) {
            failures.push(format!(
                "{method} {path} by workspace B naming a workspace-A id: got {status} {}, \
                 expected 404 not_found",
                short(&answer)
            ));
        }
    }

    failures.extend(world.run(ROUTING_ROWS).await);
    failures.extend(world.run(TRANSFER_ROWS).await);
    report(&failures);
}

both_backends!(
    desk_endpoints_answer_each_role_as_the_matrix_says,
    desk_endpoints_answer_each_role_as_the_matrix_says
);
async fn desk_endpoints_answer_each_role_as_the_matrix_says(backend: Backend) {
    let world = World::build(backend).await;
    let failures = world.run(DESK_ROWS).await;
    report(&failures);
}

both_backends!(
    a_visitor_token_works_only_on_the_widget_of_its_own_website,
    a_visitor_token_works_only_on_the_widget_of_its_own_website
);
/// The matrix holds no visitor token: one of a website calls another website's widget of the
/// same workspace (refused: the token is bound to its website) and then its own. No Origin
/// is sent, so it is the binding that refuses, not the domain check.
async fn a_visitor_token_works_only_on_the_widget_of_its_own_website(backend: Backend) {
    let server = Server::start(backend).await;
    let http = Http {
        base: server.base.clone(),
        client: reqwest::Client::new(),
    };
    let mine = http.website(&server.token, "Shop").await;
    let theirs = http.website(&server.token, "Blog").await;
    let visitor = http.visitor(&mine.key).await;
    let mut failures = Vec::new();
    for row in WEBSITE_ROWS.iter().filter(|r| r.case.uses_public_key()) {
        let (method, _) = row.endpoint.split_once(' ').unwrap();
        for (site, expect) in [(&theirs, F), (&mine, A)] {
            let (call, body) = widget_call(row.case);
            let path = format!("/v1/widget/{}/{call}", site.key);
            let (status, answer) = http
                .call(method, &path, Some(&visitor.token), Some(&body))
                .await;
            if !expect.accepts(status, &answer) {
                failures.push(format!(
                    "{method} {path} with a visitor token of {}: got {status} {}, expected {}",
                    mine.key,
                    short(&answer),
                    expect.describe()
                ));
            }
        }
    }
    report(&failures);
}

// ----- the real-time matrix -------------------------------------------------------------------

/// What a frame gets back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum W {
    /// `ack`
    Ack,
    /// `ok`
    Done,
    /// nothing (a `typing` that was accepted)
    Quiet,
    /// `error` with this code
    Err(&'static str),
}

const AK: W = W::Ack;
const OK: W = W::Done;
const NA: W = W::Quiet;
const NF: W = W::Err("not_found");
const FB: W = W::Err("forbidden");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    TypingS,
    TypingAgainS,
    TypingD,
    TypingAgainD,
    ReadS,
    ReadD,
    DeliveredS,
    DeliveredD,
    ReactS,
    ReactD,
    ReactNoteS,
    ReactPreJoinD,
    SendNoteS,
    SendS,
    SendD,
}

/// The roles that can open a WebSocket (the others are refused at `hello`, checked below).
const WS_ROLES: [Role; 11] = [
    Role::Owner,
    Role::Admin,
    Role::Agent,
    Role::AgentIn,
    Role::Customer,
    Role::OtherCustomer,
    Role::Buyer,
    Role::Seller,
    Role::Third,
    Role::OtherWorkspace,
    Role::ReadOnly,
];

/// Client frames, in the order each role sends them on one socket (sends last: a staff
/// member's first send makes it a participant). "Again" repeats the typing frame at once,
/// inside the throttle window: a refusal must not turn into silence.
#[rustfmt::skip]
const WS_ROWS: &[(Frame, [W; 11])] = &[
    //                      Ow  Ad  Ag  AI  Cu  OC  Bu  Se  Th  WB  RO
    (Frame::TypingS,       [FB, FB, FB, NA, NA, NF, NF, NF, NF, NF, FB]),
    (Frame::TypingAgainS,  [FB, FB, FB, NA, NA, NF, NF, NF, NF, NF, FB]),
    (Frame::TypingD,       [FB, FB, FB, FB, NF, NF, NA, NA, NA, NF, FB]),
    (Frame::TypingAgainD,  [FB, FB, FB, FB, NF, NF, NA, NA, NA, NF, FB]),
    (Frame::ReadS,         [NF, NF, NF, OK, OK, NF, NF, NF, NF, NF, FB]),
    (Frame::ReadD,         [NF, NF, NF, NF, NF, NF, OK, OK, OK, NF, FB]),
    (Frame::DeliveredS,    [NF, NF, NF, OK, OK, NF, NF, NF, NF, NF, FB]),
    (Frame::DeliveredD,    [NF, NF, NF, NF, NF, NF, OK, OK, OK, NF, FB]),
    (Frame::ReactS,        [OK, OK, OK, OK, OK, NF, NF, NF, NF, NF, FB]),
    (Frame::ReactD,        [OK, OK, OK, OK, NF, NF, OK, OK, OK, NF, FB]),
    (Frame::ReactNoteS,    [OK, OK, OK, OK, NF, NF, NF, NF, NF, NF, FB]),
    (Frame::ReactPreJoinD, [OK, OK, OK, OK, NF, NF, OK, OK, NF, NF, FB]),
    (Frame::SendNoteS,     [AK, AK, AK, AK, FB, FB, FB, FB, FB, NF, FB]),
    (Frame::SendS,         [AK, AK, AK, AK, AK, NF, NF, NF, NF, NF, FB]),
    (Frame::SendD,         [AK, AK, AK, AK, NF, NF, AK, AK, AK, NF, FB]),
];

fn ws_frame(frame: Frame, s: &Support, d: &Direct) -> Value {
    let typing = |c: i64| json!({"type": "typing", "conversation_id": c});
    let cursor = |kind: &str, c: i64| json!({"type": kind, "conversation_id": c, "seq": 1});
    let react = |c: i64, m: i64| json!({"type": "react", "conversation_id": c, "message_id": m, "emoji": "👍"});
    match frame {
        Frame::TypingS | Frame::TypingAgainS => typing(s.id),
        Frame::TypingD | Frame::TypingAgainD => typing(d.id),
        Frame::ReadS => cursor("read", s.id),
        Frame::ReadD => cursor("read", d.id),
        Frame::DeliveredS => cursor("delivered", s.id),
        Frame::DeliveredD => cursor("delivered", d.id),
        Frame::ReactS => react(s.id, s.by_spare),
        Frame::ReactD => react(d.id, d.by_spare),
        Frame::ReactNoteS => react(s.id, s.note),
        Frame::ReactPreJoinD => react(d.id, d.pre_buyer),
        Frame::SendNoteS => {
            json!({"type": "send", "conversation_id": s.id, "body": "psst", "kind": "note"})
        }
        Frame::SendS => json!({"type": "send", "conversation_id": s.id, "body": "hi"}),
        Frame::SendD => json!({"type": "send", "conversation_id": d.id, "body": "hi"}),
    }
}

/// Sends `frame` with `reference` and returns its answer: `ack`, `ok` or `error` with that
/// ref — or `{"type":"none"}` for a typing frame that got no answer (told by a `ping` sent
/// right after it: answers come back in order).
async fn answer(client: &mut Client, mut frame: Value, reference: &str) -> Value {
    frame["ref"] = json!(reference);
    let typing = frame["type"] == "typing";
    client.send_json(frame).await;
    let ping = format!("{reference}-ping");
    if typing {
        client.send_json(json!({"type": "ping", "ref": ping})).await;
    }
    loop {
        let got = client.next_frame().await;
        let kind = got["type"].as_str().unwrap_or_default();
        if got["ref"] == reference && matches!(kind, "ack" | "ok" | "error") {
            return got;
        }
        if typing && kind == "pong" && got["ref"] == ping.as_str() {
            return json!({"type": "none"});
        }
    }
}

fn ws_accepts(expect: W, got: &Value) -> bool {
    match expect {
        W::Ack => got["type"] == "ack",
        W::Done => got["type"] == "ok",
        W::Quiet => got["type"] == "none",
        W::Err(code) => got["type"] == "error" && got["code"] == code,
    }
}

/// The close code a `hello` with `token` gets.
async fn hello_refused(server: &Server, token: &str) -> u16 {
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .unwrap();
    let hello = json!({"type": "hello", "token": token});
    socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .unwrap();
    loop {
        let message = tokio::time::timeout(common::WAIT, socket.next())
            .await
            .expect("the server answers hello");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Text(text))) => panic!("hello accepted: {text}"),
            Some(Err(_)) | None | Some(Ok(Message::Close(None))) => return 1006,
            Some(Ok(_)) => continue,
        }
    }
}

both_backends!(
    real_time_frames_answer_each_role_as_the_matrix_says,
    real_time_frames_answer_each_role_as_the_matrix_says
);
async fn real_time_frames_answer_each_role_as_the_matrix_says(backend: Backend) {
    let world = World::build(backend).await;
    let mut failures = Vec::new();

    for role in [Role::Anonymous, Role::Garbage, Role::Deactivated] {
        let token = world.token(role).unwrap_or_default();
        let code = hello_refused(&world.server, &token).await;
        if code != 4001 {
            failures.push(format!(
                "hello as {}: closed with {code}, expected 4001",
                role.label()
            ));
        }
    }

    let world = &world;
    let per_role = WS_ROLES
        .iter()
        .enumerate()
        .map(|(column, &role)| async move {
            // Copies of S and D for this role alone: its sends and reactions touch nothing
            // another role relies on.
            let (s, d) = (world.support().await, world.direct().await);
            let token = world.token(role).unwrap();
            let mut client = Client::connect(&world.server, &token, None).await;
            let mut out = Vec::new();
            for (n, (frame, expect)) in WS_ROWS.iter().enumerate() {
                let got = answer(&mut client, ws_frame(*frame, &s, &d), &format!("f{n}")).await;
                if !ws_accepts(expect[column], &got) {
                    out.push(format!(
                        "{frame:?} frame as {}: got {got}, expected {:?}",
                        role.label(),
                        expect[column]
                    ));
                }
            }
            out
        });
    failures.extend(join_all(per_role).await.into_iter().flatten());
    report(&failures);
}

// ----- who receives what ----------------------------------------------------------------------

/// The conversation an event or typing frame is about.
fn conversation_of(frame: &Value) -> Option<i64> {
    let data = if frame["type"] == "event" {
        &frame["data"]
    } else {
        frame
    };
    [
        &data["conversation_id"],
        &data["message"]["conversation_id"],
        &data["participant"]["conversation_id"],
        &data["conversation"]["id"],
    ]
    .into_iter()
    .find_map(Value::as_i64)
}

/// The message an event is about, if any.
fn message_of(frame: &Value) -> Option<i64> {
    let data = &frame["data"];
    data["message"]["id"]
        .as_i64()
        .or_else(|| data["message_id"].as_i64())
}

/// The last message of the event scenario in each conversation.
const SENTINEL: &str = "that is all";

/// Frames up to and including the sentinel's `message_created`.
async fn until_sentinel(client: &mut Client) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = client.next_frame().await;
        let done = created(std::slice::from_ref(&frame), SENTINEL);
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

fn created(frames: &[Value], body: &str) -> bool {
    frames
        .iter()
        .any(|f| f["data"]["type"] == "message_created" && f["data"]["message"]["body"] == body)
}

/// The labels of the events in `frames` that name message `id`.
fn about(frames: &[Value], id: i64) -> Vec<String> {
    frames
        .iter()
        .filter(|f| message_of(f) == Some(id))
        .map(|f| format!("{}#{}", f["data"]["type"], f["id"]))
        .collect()
}

/// Who may receive what, for the event checks.
struct Audience {
    s: i64,
    d: i64,
    b: i64,
    /// Staff notes: no contact may hear of them.
    notes: Vec<i64>,
    /// Messages of `D` from before the third party joined.
    before_join: Vec<i64>,
}

impl Audience {
    /// The conversations whose events and typing `role` may receive.
    fn allowed(&self, role: Role) -> Vec<i64> {
        match role {
            Role::AgentIn | Role::Customer => vec![self.s],
            Role::Buyer | Role::Seller | Role::Third => vec![self.d],
            Role::OtherWorkspace => vec![self.b],
            _ => vec![],
        }
    }

    fn violations(&self, role: Role, frames: &[Value], how: &str) -> Vec<String> {
        let who = format!("{} ({how})", role.label());
        let mut out = Vec::new();
        for frame in frames {
            if !matches!(frame["type"].as_str(), Some("event" | "typing")) {
                continue;
            }
            if conversation_of(frame).is_none_or(|c| !self.allowed(role).contains(&c)) {
                out.push(format!("{who} received {frame}"));
            }
        }
        if role.is_contact() {
            for note in &self.notes {
                let leaked = about(frames, *note);
                if !leaked.is_empty() {
                    out.push(format!(
                        "{who} received events about note {note}: {leaked:?}"
                    ));
                }
            }
            if frames
                .iter()
                .any(|f| f["data"]["message"]["kind"] == "note")
            {
                out.push(format!("{who} received a note"));
            }
        }
        if role == Role::Third {
            for earlier in &self.before_join {
                let leaked = about(frames, *earlier);
                if !leaked.is_empty() {
                    out.push(format!(
                        "{who} received events about message {earlier}, from before it \
                         joined: {leaked:?}"
                    ));
                }
            }
        }
        out
    }
}

both_backends!(
    events_reach_only_the_accounts_allowed_to_see_them_live_and_on_replay,
    events_reach_only_the_accounts_allowed_to_see_them_live_and_on_replay
);
async fn events_reach_only_the_accounts_allowed_to_see_them_live_and_on_replay(backend: Backend) {
    let w = World::build(backend).await;
    let (s, d, b) = (&w.s, &w.d, w.b_conv);
    let mut clients = Vec::new();
    for role in WS_ROLES {
        clients.push(Client::connect(&w.server, &w.token(role).unwrap(), None).await);
    }

    // What happens while everyone listens (over REST, so the sockets only receive).
    let http = &w.http;
    let hello = http
        .message(&w.customer.token, s.id, "s-hello", "text")
        .await;
    let secret = http
        .message(&w.agent_in.token, s.id, "s-secret", "note")
        .await;
    let react = |token: &str, conv: i64, m: i64| {
        let path = format!("/v1/conversations/{conv}/messages/{m}/reactions/{THUMBS}");
        let token = token.to_string();
        async move { http.ok("PUT", &path, &token, None).await }
    };
    react(&w.agent_in.token, s.id, secret).await;
    http.ok(
        "PATCH",
        &format!("/v1/conversations/{}/messages/{secret}", s.id),
        &w.agent_in.token,
        Some(json!({"body": "s-secret, edited"})),
    )
    .await;
    react(&w.owner.token, s.id, hello).await;
    http.ok(
        "POST",
        &format!("/v1/conversations/{}/typing", s.id),
        &w.customer.token,
        None,
    )
    .await;
    http.message(&w.agent_in.token, s.id, "s-reply", "text")
        .await;

    react(&w.buyer.token, d.id, d.pre_buyer).await;
    http.ok(
        "PATCH",
        &format!("/v1/conversations/{}/messages/{}", d.id, d.pre_seller),
        &w.seller.token,
        Some(json!({"body": "shipping today"})),
    )
    .await;
    http.ok(
        "DELETE",
        &format!("/v1/conversations/{}/messages/{}", d.id, d.pre_buyer),
        &w.buyer.token,
        None,
    )
    .await;
    let d_secret = http.message(&w.agent.token, d.id, "d-secret", "note").await;
    http.message(&w.seller.token, d.id, "d-after", "text").await;
    http.ok(
        "POST",
        &format!("/v1/conversations/{}/typing", d.id),
        &w.buyer.token,
        None,
    )
    .await;
    http.message(&w.b_owner.token, b, "b-hello", "text").await;
    // A last message in each conversation: once a participant has it, everything before
    // it has been fanned out to every connection (events go out in id order).
    http.message(&w.agent_in.token, s.id, SENTINEL, "text")
        .await;
    http.message(&w.seller.token, d.id, SENTINEL, "text").await;
    http.message(&w.b_owner.token, b, SENTINEL, "text").await;

    let mut live: Vec<Vec<Value>> = Vec::new();
    for (role, client) in WS_ROLES.iter().zip(clients.iter_mut()) {
        if !matches!(
            role,
            Role::Owner | Role::Admin | Role::Agent | Role::OtherCustomer | Role::ReadOnly
        ) {
            live.push(until_sentinel(client).await);
        } else {
            live.push(Vec::new());
        }
    }
    for (frames, client) in live.iter_mut().zip(clients.iter_mut()) {
        frames.extend(client.drain(Duration::from_millis(500)).await);
    }

    let audience = Audience {
        s: s.id,
        d: d.id,
        b,
        notes: vec![secret, d_secret, s.note],
        before_join: vec![d.pre_buyer, d.pre_seller],
    };
    let mut failures = Vec::new();
    for (role, frames) in WS_ROLES.iter().zip(&live) {
        failures.extend(audience.violations(*role, frames, "live"));
    }

    // And the participants did get what they should (the checks above are not vacuous).
    let of = |role: Role| &live[WS_ROLES.iter().position(|r| *r == role).unwrap()];
    let mut expect = |ok: bool, what: &str| {
        if !ok {
            failures.push(format!("missing: {what}"));
        }
    };
    expect(
        created(of(Role::Customer), "s-hello") && created(of(Role::Customer), "s-reply"),
        "the customer gets the conversation's messages",
    );
    expect(
        created(of(Role::AgentIn), "s-secret"),
        "the participating agent gets the note",
    );
    expect(
        of(Role::AgentIn)
            .iter()
            .any(|f| f["type"] == "typing" && f["account_id"] == w.customer.id),
        "the participating agent sees the customer typing",
    );
    expect(
        !about(of(Role::Customer), hello).is_empty()
            && of(Role::Customer)
                .iter()
                .any(|f| f["data"]["type"] == "reaction_added" && f["data"]["message_id"] == hello),
        "the customer sees the owner's reaction to its message",
    );
    expect(
        about(of(Role::Buyer), d.pre_buyer).len() >= 2,
        "the buyer gets the reaction to and deletion of its message",
    );
    expect(
        created(of(Role::Third), "d-after"),
        "the third party gets messages after it joined",
    );
    expect(
        of(Role::Third)
            .iter()
            .any(|f| f["type"] == "typing" && f["account_id"] == w.buyer.id),
        "the third party sees the buyer typing",
    );
    expect(
        created(of(Role::OtherWorkspace), "b-hello"),
        "workspace B gets its own messages",
    );

    // Replay from the very beginning applies the same rules.
    for role in [
        Role::Customer,
        Role::OtherCustomer,
        Role::Third,
        Role::Agent,
        Role::OtherWorkspace,
    ] {
        let mut client = Client::connect(&w.server, &w.token(role).unwrap(), Some(0)).await;
        let mut frames = if Audience::allowed(&audience, role).is_empty() {
            Vec::new()
        } else {
            until_sentinel(&mut client).await
        };
        frames.extend(client.drain(Duration::from_millis(500)).await);
        failures.extend(audience.violations(role, &frames, "replay from 0"));
        if role == Role::Customer && !created(&frames, "s-hello") {
            failures.push("missing on replay: the customer's conversation".to_string());
        }
        if role == Role::Third && !created(&frames, "d-after") {
            failures.push("missing on replay: the third party's later messages".to_string());
        }
    }

    // Deactivating a staff member, or revoking the token a socket was opened with, ends
    // what that socket receives at once ("their sessions and API tokens stop working at
    // once"): nothing more arrives after it.
    let leaver = w.http.staff(&w.owner.token, "agent").await;
    let revoked = w.http.staff(&w.owner.token, "agent").await;
    for agent in [&leaver, &revoked] {
        w.http
            .ok(
                "POST",
                &format!("/v1/conversations/{}/participants", s.id),
                &w.owner.token,
                Some(json!({"account_id": agent.id, "role": "agent"})),
            )
            .await;
    }
    let mut leaver_socket = Client::connect(&w.server, &leaver.token, None).await;
    let mut revoked_socket = Client::connect(&w.server, &revoked.token, None).await;
    let revoked_id = {
        let list = w
            .http
            .ok(
                "GET",
                &format!("/v1/staff/{}/tokens", revoked.id),
                &w.owner.token,
                None,
            )
            .await;
        list[0]["id"].as_i64().unwrap()
    };
    w.http
        .ok(
            "DELETE",
            &format!("/v1/staff/{}", leaver.id),
            &w.owner.token,
            None,
        )
        .await;
    w.http
        .ok(
            "DELETE",
            &format!("/v1/tokens/{revoked_id}"),
            &w.owner.token,
            None,
        )
        .await;
    w.http
        .message(&w.customer.token, s.id, "after the door closed", "text")
        .await;
    let customer = &mut clients[WS_ROLES.iter().position(|r| *r == Role::Customer).unwrap()];
    while !created(&[customer.next_of("event").await], "after the door closed") {}
    for (who, socket) in [
        ("a deactivated agent", &mut leaver_socket),
        ("a revoked token", &mut revoked_socket),
    ] {
        let frames = socket.drain(Duration::from_millis(500)).await;
        if created(&frames, "after the door closed") {
            failures.push(format!(
                "{who}'s open WebSocket still receives new messages after the fact"
            ));
        }
    }
    report(&failures);
}
