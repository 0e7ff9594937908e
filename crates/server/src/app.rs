//! The domain layer between the edges (HTTP handlers, the real-time gateway, the CLI) and
//! storage. Each operation validates its input and authorizes through
//! `natter_core::policy` (the `check_*` half), then writes through the store and publishes
//! the committed events to their recipients (the `do_*` half). Handlers never touch SQL and
//! never choose recipients.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use natter_core::config::Config;
use natter_core::ids::{AccountId, ConversationId, MessageId};
use natter_core::model::{
    Account, Conversation, ConversationKind, ConversationStatus, Message, MessageFormat,
    MessageKind, Participant, ParticipantRole, StaffRole, Visibility,
};
use natter_core::protocol::ServerFrame;
use natter_core::time::now_millis;
use natter_core::{Error, ErrorCode, policy};
use natter_realtime::fanout::FanoutConfig;
use natter_realtime::{Fanout, Hub};
use natter_store::{
    Committed, ConversationPage, Cursor, HistoryQuery, NewContact, NewConversation, NewMessage,
    NewParticipant, NewStaff, PostOutcome, Store, StoreError,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{self, Credential, Principal, Scope, Via};
use crate::ratelimit::Limit;

/// Shared state of a running node.
pub struct App {
    pub store: Store,
    pub hub: Arc<Hub>,
    /// Delivers committed events to the hub in id order, from this node and (with Redis)
    /// from the others.
    pub fanout: Fanout,
    pub config: Arc<Config>,
    /// Key for contact tokens, loaded once at start from the database.
    contact_key: Vec<u8>,
    /// Key that seals TOTP secrets at rest, loaded once at start from the database.
    pub(crate) identity_key: Vec<u8>,
    /// Outgoing email (a development mailbox until SMTP lands).
    pub mailbox: crate::mail::Mailbox,
    /// Request rate limits (shared through Redis in a cluster).
    pub limits: crate::ratelimit::RateLimiter,
    /// Outgoing HTTP (host platforms' JWKS, OpenID providers).
    pub http: reqwest::Client,
    /// JWKS documents of host platforms, cached.
    pub jwks: crate::contact_identity::JwksCache,
    /// Websites by key and id, briefly cached (every widget request looks one up).
    pub websites: crate::websites::WebsiteCache,
    /// Contact tokens already checked, briefly cached (see `authcache`).
    contact_auth: crate::authcache::ContactAuthCache,
    /// Who is connected (this node, and in a cluster every node through Redis).
    pub presence: Arc<crate::presence::Presence>,
    /// Geolocation, device and traffic-source enrichment of visits.
    pub enricher: crate::websites::Enricher,
    /// Cancelled when the node shuts down; long-lived connections watch it.
    pub shutdown: CancellationToken,
    /// Tracks long-lived connections so shutdown can wait for them to close.
    pub connections: TaskTracker,
    /// Renders `/metrics`; `None` if another recorder was installed first (tests in one
    /// process).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// A conversation to create (validated input).
pub struct CreateConversation {
    pub kind: ConversationKind,
    pub subject: Option<String>,
    pub listing: Option<serde_json::Value>,
    /// The website of a widget chat (set by the server from the visitor's token).
    pub website_id: Option<natter_core::WebsiteId>,
    pub participants: Vec<(AccountId, ParticipantRole, Visibility)>,
}

/// A message to post (unvalidated input from either edge).
pub struct PostMessage {
    pub conversation_id: ConversationId,
    pub client_msg_id: Option<String>,
    pub kind: Option<MessageKind>,
    pub format: Option<MessageFormat>,
    pub body: String,
}

impl App {
    /// Builds the node state: loads (or creates) the deployment's signing key and starts the
    /// fan-out after the event log's current head.
    pub async fn new(store: Store, config: Config) -> anyhow::Result<Arc<Self>> {
        let contact_key = store
            .secret("contact_token_key", auth::new_key)
            .await
            .map_err(|e| anyhow::anyhow!("loading the contact token key: {e}"))?;
        let identity_key = store
            .secret("identity_key", auth::new_key)
            .await
            .map_err(|e| anyhow::anyhow!("loading the identity key: {e}"))?;
        let head = store
            .head()
            .await
            .map_err(|e| anyhow::anyhow!("reading the event log: {e}"))?;
        let hub = Hub::new();
        let shutdown = CancellationToken::new();
        let realtime = &config.realtime;
        let fanout_config = FanoutConfig {
            gap_timeout: Duration::from_millis(realtime.gap_timeout_ms),
            poll_interval: Duration::from_millis(realtime.catch_up_poll_ms),
            fill_batch: realtime.replay_batch.max(1),
        };
        let redis_url = Some(config.redis.url.as_str()).filter(|u| !u.is_empty());
        let fanout = Fanout::start(
            Arc::clone(&hub),
            store.clone(),
            head.last_event_id,
            fanout_config,
            redis_url,
            shutdown.clone(),
        )
        .map_err(|e| anyhow::anyhow!("redis.url: {e}"))?;
        let limits = crate::ratelimit::RateLimiter::new(&config.rate_limits, redis_url);
        let presence = crate::presence::Presence::new(redis_url);
        presence.start(Arc::clone(&hub), shutdown.clone());
        let enricher = crate::websites::Enricher::new(&config.geoip)?;
        Ok(Arc::new(Self {
            store,
            hub,
            fanout,
            mailbox: crate::mail::Mailbox::new(&config.data_dir),
            limits,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?,
            jwks: crate::contact_identity::JwksCache::default(),
            websites: crate::websites::WebsiteCache::default(),
            contact_auth: crate::authcache::ContactAuthCache::default(),
            presence,
            enricher,
            config: Arc::new(config),
            contact_key,
            identity_key,
            shutdown,
            connections: TaskTracker::new(),
            metrics: crate::api::metrics::install(),
        }))
    }

    /// Maps a storage failure to the error shown at the edge, logging what is not shown.
    pub fn public_error(e: StoreError) -> Error {
        match e {
            StoreError::Domain(e) => e,
            other => {
                tracing::error!(error = %other, "storage failure");
                other.public()
            }
        }
    }

    /// Runs a write and hands the events it committed to the fan-out. Should this future be
    /// dropped between the commit and the hand-over (a client hung up), the fan-out finds the
    /// missing ids in storage and delivers them anyway.
    pub(crate) async fn commit<T>(
        &self,
        write: impl Future<Output = Result<Committed<T>, StoreError>>,
    ) -> Result<T, Error> {
        let committed = write.await.map_err(Self::public_error)?;
        self.fanout.committed(committed.events);
        Ok(committed.value)
    }

    // ----- identity -------------------------------------------------------------------

    /// Resolves a bearer token (staff API token or contact token) to an active account.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, Error> {
        match auth::classify(token)? {
            Credential::Staff(token) => {
                let hash = auth::hash_token(token);
                let (account, scopes) = self
                    .store
                    .account_by_token_hash(&hash)
                    .await
                    .map_err(Self::public_error)?
                    .ok_or_else(refused)?;
                // Scopes were validated when the token was created.
                let scopes = auth::parse_scopes(&scopes).unwrap_or_default();
                let key: String = hash.iter().take(12).map(|b| format!("{b:02x}")).collect();
                self.limits.check(Limit::RequestsPerToken, &key).await?;
                Ok(Principal {
                    account,
                    via: Via::ApiToken { key, scopes },
                })
            }
            Credential::Contact(token) => {
                let now_secs = now_millis() / 1000;
                let stamps = |account| {
                    (
                        self.store.account_stamp(account),
                        self.hub.revocation_stamp(account),
                    )
                };
                let (account, website) = match self.contact_auth.get(token, now_secs, stamps) {
                    Some(hit) => hit,
                    None => {
                        let claim = auth::verify_contact_token(&self.contact_key, token, now_secs)?;
                        // Taken before the read: a change committed meanwhile moves them.
                        let taken = stamps(claim.account);
                        let account = self.claimed_contact(&claim).await?;
                        self.contact_auth.put(
                            token,
                            claim.expires_at,
                            taken,
                            account.clone(),
                            claim.website,
                        );
                        (account, claim.website)
                    }
                };
                // Checked on every request, cached token or not (the website cache has its
                // own short TTL): a retired website's visitors are signed out with it.
                if let Some(website) = website
                    && self.websites.by_id(self, website).await?.is_none()
                {
                    return Err(refused());
                }
                Ok(Principal {
                    account,
                    via: Via::Contact { website },
                })
            }
        }
    }

    /// The contact a verified token names, if it still exists in the token's workspace.
    async fn claimed_contact(&self, claim: &auth::ContactClaim) -> Result<Account, Error> {
        match self
            .store
            .account(claim.account)
            .await
            .map_err(Self::public_error)?
        {
            Some(account) if account.workspace_id == claim.workspace && !account.is_staff() => {
                Ok(account)
            }
            _ => Err(refused()),
        }
    }

    /// Creates a workspace with its owner and a first API token (used by the CLI and the
    /// first start). Returns the owner and the token, which is shown once.
    pub async fn bootstrap_workspace(
        &self,
        name: &str,
        owner_email: &str,
    ) -> Result<(Account, String), Error> {
        self.create_workspace_with_owner(name, owner_email, None)
            .await
    }

    /// The first start's workspace: like [`Self::bootstrap_workspace`], and the owner also
    /// gets a random password, so that a new operator can sign in to the web app at once.
    pub async fn bootstrap_first_workspace(
        &self,
        name: &str,
        owner_email: &str,
    ) -> Result<FirstAdmin, Error> {
        let password = first_password(owner_email)?;
        let (owner, token) = self
            .create_workspace_with_owner(name, owner_email, Some(&password))
            .await?;
        Ok(FirstAdmin {
            owner,
            token,
            password,
        })
    }

    async fn create_workspace_with_owner(
        &self,
        name: &str,
        owner_email: &str,
        password: Option<&str>,
    ) -> Result<(Account, String), Error> {
        check_text("name", name, 200)?;
        check_email(owner_email)?;
        let workspace = self
            .store
            .create_workspace(name)
            .await
            .map_err(Self::public_error)?;
        let owner = match password {
            // The same path as `natter admin create-user`: strength check, then argon2id.
            Some(password) => {
                self.create_user_with_password(
                    workspace,
                    owner_email,
                    None,
                    StaffRole::Owner,
                    password,
                )
                .await?
            }
            None => self
                .store
                .create_staff(&NewStaff {
                    workspace_id: workspace,
                    email: owner_email.to_string(),
                    name: None,
                    role: StaffRole::Owner,
                })
                .await
                .map_err(Self::public_error)?,
        };
        let token = self
            .issue_api_token(owner.id, "first admin token", &Scope::ALL)
            .await?;
        Ok((owner, token))
    }

    async fn issue_api_token(
        &self,
        account: AccountId,
        name: &str,
        scopes: &[Scope],
    ) -> Result<String, Error> {
        let token = auth::new_api_token();
        let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        self.store
            .create_api_token(account, name, &auth::hash_token(&token), &scopes.join(" "))
            .await
            .map_err(Self::public_error)?;
        Ok(token)
    }

    /// Creates a staff account. Owners and admins may; only an owner may create an owner.
    pub async fn create_staff(
        &self,
        actor: &Account,
        email: &str,
        name: Option<String>,
        role: StaffRole,
    ) -> Result<Account, Error> {
        check_admin(actor)?;
        if role == StaffRole::Owner && actor.role != Some(StaffRole::Owner) {
            return Err(Error::forbidden("only an owner can create another owner"));
        }
        check_email(email)?;
        if let Some(name) = &name {
            check_text("name", name, 200)?;
        }
        let account = self
            .store
            .create_staff(&NewStaff {
                workspace_id: actor.workspace_id,
                email: email.to_string(),
                name,
                role,
            })
            .await
            .map_err(Self::public_error)?;
        self.audit(
            actor,
            "staff.created",
            Some(("account", account.id.to_string())),
            serde_json::json!({"email": email, "role": role.as_str()}),
        )
        .await;
        Ok(account)
    }

    /// Issues an API token for a staff account: one's own, or anyone's for owners/admins.
    pub async fn create_api_token(
        &self,
        actor: &Account,
        target: AccountId,
        name: &str,
        scopes: &[Scope],
    ) -> Result<String, Error> {
        if scopes.is_empty() {
            return Err(Error::invalid("a token needs at least one scope"));
        }
        check_text("name", name, 200)?;
        if target != actor.id {
            check_admin(actor)?;
        } else if !actor.is_staff() {
            return Err(Error::forbidden("only staff accounts have API tokens"));
        }
        let account = self
            .store
            .account_in(actor.workspace_id, target)
            .await
            .map_err(Self::public_error)?;
        if !account.is_staff() {
            return Err(Error::invalid("API tokens are for staff accounts"));
        }
        if account.role == Some(StaffRole::Owner) && actor.role != Some(StaffRole::Owner) {
            // A token acts as its owner: minting one for an owner would make an admin one.
            return Err(Error::forbidden(
                "only an owner can issue tokens for an owner",
            ));
        }
        let token = self.issue_api_token(account.id, name, scopes).await?;
        self.audit(
            actor,
            "token.created",
            Some(("account", account.id.to_string())),
            serde_json::json!({"name": name, "scopes": scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>()}),
        )
        .await;
        Ok(token)
    }

    /// Creates or updates a contact (staff only: the host platform's backend).
    pub async fn upsert_contact(
        &self,
        actor: &Account,
        external_id: Option<String>,
        name: Option<String>,
        email: Option<String>,
    ) -> Result<Account, Error> {
        check_staff(actor)?;
        self.limits
            .check(Limit::ContactsPerAccount, &actor.id.to_string())
            .await?;
        if let Some(id) = &external_id {
            check_text("external_id", id, 200)?;
        }
        if let Some(name) = &name {
            check_text("name", name, 200)?;
        }
        if let Some(email) = &email {
            check_email(email)?;
        }
        self.store
            .upsert_contact(&NewContact {
                workspace_id: actor.workspace_id,
                // The host platform's backend vouches for its own user ids.
                verified: external_id.is_some(),
                external_id,
                name,
                email,
            })
            .await
            .map_err(Self::public_error)
    }

    /// Mints a contact token (staff only). Returns the token and its expiry (ms).
    pub async fn mint_contact_token(
        &self,
        actor: &Account,
        contact: AccountId,
    ) -> Result<(String, i64), Error> {
        check_staff(actor)?;
        let account = self
            .store
            .account_in(actor.workspace_id, contact)
            .await
            .map_err(Self::public_error)?;
        if account.is_staff() {
            return Err(Error::invalid("contact tokens are for contacts"));
        }
        self.contact_token(&account)
    }

    /// A fresh contact token for `account` and its expiry (ms).
    pub fn contact_token(&self, account: &Account) -> Result<(String, i64), Error> {
        self.visitor_token(account, None)
    }

    /// A fresh contact token bound to `website` (a widget visitor's) and its expiry (ms).
    pub fn visitor_token(
        &self,
        account: &Account,
        website: Option<natter_core::WebsiteId>,
    ) -> Result<(String, i64), Error> {
        let ttl = i64::try_from(self.config.auth.contact_token_ttl_secs).unwrap_or(i64::MAX);
        let expires_at = (now_millis() / 1000).saturating_add(ttl);
        let token = auth::mint_contact_token(
            &self.contact_key,
            account.workspace_id,
            account.id,
            website,
            expires_at,
        )?;
        Ok((token, expires_at.saturating_mul(1000)))
    }

    // ----- conversations ----------------------------------------------------------------

    pub async fn create_conversation(
        &self,
        actor: &Account,
        input: CreateConversation,
    ) -> Result<(Conversation, Vec<Participant>), Error> {
        let limits = &self.config.limits;
        if let Some(subject) = &input.subject {
            check_text("subject", subject, limits.subject_bytes)?;
        }
        if let Some(listing) = &input.listing {
            check_listing(listing, limits.listing_bytes)?;
        }
        let mut participants = input.participants;
        // A contact opening a chat need not list itself.
        if !actor.is_staff() && participants.is_empty() {
            participants.push((actor.id, ParticipantRole::Customer, Visibility::Full));
        }
        if participants.is_empty() {
            return Err(Error::invalid(
                "a conversation needs at least one participant",
            ));
        }
        if participants.len() > limits.participants_per_conversation as usize {
            return Err(Error::new(ErrorCode::TooLarge, "too many participants"));
        }
        let mut seen = std::collections::HashSet::new();
        if !participants.iter().all(|(id, _, _)| seen.insert(*id)) {
            return Err(Error::invalid("a participant is listed twice"));
        }
        let roles: Vec<_> = participants
            .iter()
            .map(|(id, role, _)| (*id, *role))
            .collect();
        policy::may_create(actor, input.kind, &roles)?;
        self.check_contact_may_chat(actor).await?;
        let new = NewConversation {
            workspace_id: actor.workspace_id,
            kind: input.kind,
            subject: input.subject,
            listing: input.listing,
            website_id: input.website_id,
            participants: participants
                .into_iter()
                .map(|(account_id, role, visibility)| NewParticipant {
                    account_id,
                    role,
                    visibility,
                })
                .collect(),
        };
        let (conversation, participants) =
            self.commit(self.store.create_conversation(&new)).await?;
        if !actor.is_staff() && conversation.kind == ConversationKind::Support {
            // A customer's chat waits for an agent: the queue takes it from here.
            self.enqueue_chat(
                actor,
                conversation.id,
                conversation.website_id,
                conversation.subject.as_deref(),
            )
            .await?;
        }
        Ok((conversation, participants))
    }

    /// A conversation the actor may read, with its active participants.
    pub async fn conversation(
        &self,
        actor: &Account,
        id: ConversationId,
    ) -> Result<(Conversation, Option<Participant>), Error> {
        let (conversation, participant) = self
            .store
            .conversation(actor.workspace_id, id, actor.id)
            .await
            .map_err(Self::public_error)?;
        if !policy::may_read(actor, participant.as_ref()) {
            // Not "forbidden": a non-participant must not learn that the conversation exists.
            return Err(Error::not_found("conversation"));
        }
        if participant.is_none() {
            // Staff who do not take part read only the websites they serve.
            self.check_serves(actor, conversation.website_id).await?;
        }
        Ok((conversation, participant))
    }

    pub async fn participants(
        &self,
        actor: &Account,
        id: ConversationId,
    ) -> Result<(Conversation, Vec<Participant>), Error> {
        let (conversation, _) = self.conversation(actor, id).await?;
        let participants = self
            .store
            .participants(id)
            .await
            .map_err(Self::public_error)?;
        Ok((conversation, participants))
    }

    pub async fn list_conversations(
        &self,
        actor: &Account,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ConversationPage, Error> {
        let limit = self.check_limit(limit)?;
        if cursor.is_some_and(|c| c.len() > 64) {
            return Err(Error::invalid("cursor is not one this server returned"));
        }
        self.store
            .list_conversations(actor, cursor, limit)
            .await
            .map_err(Self::public_error)
    }

    pub async fn update_conversation(
        &self,
        actor: &Account,
        id: ConversationId,
        status: Option<ConversationStatus>,
        subject: Option<Option<String>>,
    ) -> Result<Conversation, Error> {
        policy::may_manage(actor)?;
        if let Some(Some(subject)) = &subject {
            check_text("subject", subject, self.config.limits.subject_bytes)?;
        }
        let conversation = self
            .commit(
                self.store
                    .update_conversation(actor.workspace_id, id, status, subject),
            )
            .await?;
        if let Some(status) = status {
            // Resolving frees the agent's capacity: the queue backfills at once.
            self.status_changed(actor.workspace_id, id, status).await?;
        }
        Ok(conversation)
    }

    pub async fn add_participant(
        &self,
        actor: &Account,
        id: ConversationId,
        account: AccountId,
        role: ParticipantRole,
        visibility: Visibility,
    ) -> Result<Participant, Error> {
        policy::may_manage(actor)?;
        let new = NewParticipant {
            account_id: account,
            role,
            visibility,
        };
        let max = self.config.limits.participants_per_conversation;
        let participant = self
            .commit(
                self.store
                    .add_participant(actor.workspace_id, id, &new, max),
            )
            .await?;
        self.audit(
            actor,
            "participant.added",
            Some(("conversation", id.to_string())),
            serde_json::json!({"account_id": account, "role": role.as_str(),
                               "visibility": visibility.as_str()}),
        )
        .await;
        Ok(participant)
    }

    /// Removes a participant: staff may remove anyone; anyone may leave.
    pub async fn remove_participant(
        &self,
        actor: &Account,
        id: ConversationId,
        account: AccountId,
    ) -> Result<(), Error> {
        if account != actor.id {
            policy::may_manage(actor)?;
        } else {
            self.conversation(actor, id).await?;
        }
        self.commit(
            self.store
                .remove_participant(actor.workspace_id, id, account),
        )
        .await?;
        let action = if account == actor.id {
            "participant.left"
        } else {
            "participant.removed"
        };
        self.audit(
            actor,
            action,
            Some(("conversation", id.to_string())),
            serde_json::json!({"account_id": account}),
        )
        .await;
        Ok(())
    }

    // ----- messages ---------------------------------------------------------------------

    pub async fn post_message(
        &self,
        actor: &Account,
        input: PostMessage,
    ) -> Result<PostOutcome, Error> {
        let limits = &self.config.limits;
        let kind = input.kind.unwrap_or(MessageKind::Text);
        self.limits
            .check(Limit::MessagesPerAccount, &actor.id.to_string())
            .await?;
        policy::may_post_kind(actor, kind)?;
        check_body(&input.body, limits.message_body_bytes)?;
        if actor.role == Some(StaffRole::Agent) {
            // Replying joins the conversation: only where the agent serves the website.
            self.conversation(actor, input.conversation_id).await?;
        }
        self.check_contact_may_chat(actor).await?;
        if let Some(id) = &input.client_msg_id {
            check_client_msg_id(id, limits.client_msg_id_bytes)?;
        }
        let new = NewMessage {
            conversation_id: input.conversation_id,
            client_msg_id: input.client_msg_id,
            kind,
            format: input.format.unwrap_or(MessageFormat::Plain),
            body: input.body,
        };
        let outcome = self.commit(self.store.post_message(actor, &new)).await?;
        if !outcome.duplicate {
            metrics::counter!("natter_messages_in_total").increment(1);
            if actor.is_staff() && kind != MessageKind::Note {
                // A staff reply to a waiting chat takes it out of the queue.
                self.claim_by_reply(actor, input.conversation_id).await?;
            }
        }
        Ok(outcome)
    }

    pub async fn history(
        &self,
        actor: &Account,
        id: ConversationId,
        before: Option<i64>,
        after: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<Message>, Error> {
        let limit = self.check_limit(limit)?;
        if before.is_some() && after.is_some() {
            return Err(Error::invalid("give before or after, not both"));
        }
        let (_, participant) = self.conversation(actor, id).await?;
        let query = HistoryQuery {
            before,
            after,
            limit,
        };
        self.store
            .history(actor, participant.as_ref(), id, query)
            .await
            .map_err(Self::public_error)
    }

    pub async fn edit_message(
        &self,
        actor: &Account,
        id: ConversationId,
        message: MessageId,
        body: &str,
    ) -> Result<Message, Error> {
        check_body(body, self.config.limits.message_body_bytes)?;
        self.commit(self.store.edit_message(actor, id, message, body))
            .await
    }

    pub async fn delete_message(
        &self,
        actor: &Account,
        id: ConversationId,
        message: MessageId,
    ) -> Result<(), Error> {
        self.commit(self.store.delete_message(actor, id, message))
            .await
    }

    pub async fn react(
        &self,
        actor: &Account,
        id: ConversationId,
        message: MessageId,
        emoji: &str,
        add: bool,
    ) -> Result<(), Error> {
        check_emoji(emoji)?;
        let max = self.config.limits.reactions_per_message;
        self.commit(self.store.react(actor, id, message, emoji, add, max))
            .await
    }

    /// Moves the actor's read or delivered cursor; returns where it now stands.
    pub async fn move_cursor(
        &self,
        actor: &Account,
        id: ConversationId,
        cursor: Cursor,
        seq: i64,
    ) -> Result<i64, Error> {
        self.commit(self.store.move_cursor(actor, id, cursor, seq))
            .await
    }

    /// Forwards a typing indicator to the conversation's other members, at most once per
    /// throttle window per account and conversation. Never stored.
    pub async fn typing(&self, actor: &Account, id: ConversationId) -> Result<(), Error> {
        // Authorize first, so a refused caller hears why even inside a throttle window.
        let (_, participant) = self.conversation(actor, id).await?;
        if participant.is_none_or(|p| p.left_at.is_some()) {
            return Err(Error::forbidden(
                "only participants can type in a conversation",
            ));
        }
        let throttle = Duration::from_millis(self.config.realtime.typing_throttle_ms);
        if !self.fanout.allow_typing(actor.id, id, throttle).await {
            return Ok(());
        }
        let members = self
            .store
            .participants(id)
            .await
            .map_err(Self::public_error)?;
        let recipients: Vec<AccountId> = members
            .iter()
            .map(|p| p.account_id)
            .filter(|a| *a != actor.id)
            .collect();
        let frame = ServerFrame::Typing {
            conversation_id: id,
            account_id: actor.id,
        };
        let json = serde_json::to_vec(&frame).map_err(|_| Error::internal())?;
        self.fanout.ephemeral(&recipients, json.into());
        Ok(())
    }

    fn check_limit(&self, limit: Option<u32>) -> Result<u32, Error> {
        let max = self.config.limits.page_max;
        match limit {
            None => Ok(max.min(50)),
            Some(0) => Err(Error::invalid("limit must be at least 1")),
            Some(n) if n > max => Err(Error::invalid(format!("limit must be at most {max}"))),
            Some(n) => Ok(n),
        }
    }

    /// Deletes events past the retention window (run periodically).
    pub async fn prune_events(&self) -> Result<u64, Error> {
        let hours = i64::try_from(self.config.realtime.event_retention_hours).unwrap_or(i64::MAX);
        let cutoff = now_millis().saturating_sub(hours.saturating_mul(3_600_000));
        self.store
            .prune_events(cutoff)
            .await
            .map_err(Self::public_error)
    }
}

// ----- checks ------------------------------------------------------------------------------

pub(crate) fn check_staff(actor: &Account) -> Result<(), Error> {
    if actor.is_staff() {
        Ok(())
    } else {
        Err(Error::forbidden("only staff can do this"))
    }
}

pub(crate) fn check_admin(actor: &Account) -> Result<(), Error> {
    match actor.role {
        Some(StaffRole::Owner | StaffRole::Admin) => Ok(()),
        _ => Err(Error::forbidden("only owners and admins can do this")),
    }
}

fn too_large(field: &str, max: usize) -> Error {
    Error::new(
        ErrorCode::TooLarge,
        format!("{field} is longer than {max} bytes"),
    )
}

/// A credential that does not (or no longer) names a usable account.
fn refused() -> Error {
    Error::new(ErrorCode::Unauthenticated, "invalid or revoked token")
}

pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(format!("{field} must not be empty")));
    }
    if value.len() > max {
        return Err(too_large(field, max));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

fn check_body(body: &str, max: usize) -> Result<(), Error> {
    if body.trim().is_empty() {
        return Err(Error::invalid("body must not be empty"));
    }
    if body.len() > max {
        return Err(too_large("body", max));
    }
    // Newlines and tabs are content; other control characters are not.
    if body
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid("body must not contain control characters"));
    }
    Ok(())
}

fn check_client_msg_id(id: &str, max: usize) -> Result<(), Error> {
    if id.is_empty() || id.len() > max {
        return Err(Error::invalid(format!(
            "client_msg_id must be 1 to {max} bytes"
        )));
    }
    if !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::invalid("client_msg_id must be printable ASCII"));
    }
    Ok(())
}

fn check_emoji(emoji: &str) -> Result<(), Error> {
    // An emoji with modifiers and joiners (a family, a flag) can take ~30 bytes; 64 leaves
    // room without letting reactions become messages.
    if emoji.is_empty() || emoji.len() > 64 {
        return Err(Error::invalid("emoji must be 1 to 64 bytes"));
    }
    if emoji.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            "emoji must not contain spaces or control characters",
        ));
    }
    Ok(())
}

pub(crate) fn check_email(email: &str) -> Result<(), Error> {
    check_text("email", email, 254)?;
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !email.contains(' ') =>
        {
            Ok(())
        }
        _ => Err(Error::invalid("email is not an email address")),
    }
}

fn check_listing(listing: &serde_json::Value, max: usize) -> Result<(), Error> {
    if !listing.is_object() {
        return Err(Error::invalid("listing must be a JSON object"));
    }
    let size = serde_json::to_string(listing)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > max {
        return Err(too_large("listing", max));
    }
    Ok(())
}

/// The workspace a node bootstraps on first start when the database is empty.
pub const FIRST_WORKSPACE: &str = "My workspace";
pub const FIRST_OWNER_EMAIL: &str = "admin@localhost";

/// What the first start creates for its operator; the token and password are shown once.
pub struct FirstAdmin {
    pub owner: Account,
    pub token: String,
    pub password: String,
}

/// A random first password: 20 base64url characters (120 bits). Random text passes the
/// strength check all but always; the few tries cover a draw that happens to contain a
/// common word or the email's name.
fn first_password(email: &str) -> Result<String, Error> {
    std::iter::repeat_with(|| auth::random_token(15))
        .take(8)
        .find(|p| auth::check_password_strength(p, email).is_ok())
        .ok_or_else(Error::internal)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_body_of_only_whitespace_or_with_control_characters_is_refused() {
        assert!(check_body("  \n", 100).is_err());
        assert!(check_body("hi\u{7}", 100).is_err());
        assert!(check_body("line one\nline two\t!", 100).is_ok());
    }

    #[test]
    fn a_body_over_the_limit_is_too_large() {
        let err = check_body(&"x".repeat(101), 100).unwrap_err();
        assert_eq!(err.code, ErrorCode::TooLarge);
    }

    #[test]
    fn emoji_and_client_msg_ids_are_bounded() {
        assert!(check_emoji("👍").is_ok());
        assert!(check_emoji("👨‍👩‍👧‍👦").is_ok());
        assert!(check_emoji("a b").is_err());
        assert!(check_emoji(&"x".repeat(65)).is_err());
        assert!(check_client_msg_id("c-1", 64).is_ok());
        assert!(check_client_msg_id("has space", 64).is_err());
        assert!(check_client_msg_id(&"x".repeat(65), 64).is_err());
    }
}
