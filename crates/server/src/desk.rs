//! The agent workspace's server side: the inbox and its counts, labels, canned responses,
//! notification preferences and bulk actions (docs/desk-api.md).

use natter_core::api::ProfileSaved;
use natter_core::desk::{
    self, AgentPreferences, BulkOutcome, BulkRequest, CannedInput, CannedPatch, CannedResponse,
    ContactEdit, InboxCounts, InboxPage, InboxParams, LabelCount,
};
use natter_core::model::{
    Account, ConversationStatus, IdentityState, ParticipantRole, StaffRole, Visibility,
};
use natter_core::protocol::ServerFrame;
use natter_core::staff_api::MeEdit;
use natter_core::{AccountId, ConversationId, Error, ErrorCode, WebsiteId};
use natter_store::{CannedFields, InboxQuery, InboxView, ProfileUpdate};

use crate::app::{App, check_staff};

fn is_admin(actor: &Account) -> bool {
    matches!(actor.role, Some(StaffRole::Owner | StaffRole::Admin))
}

fn check_chars(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(Error::new(
            ErrorCode::TooLarge,
            format!("{field} has at most {max} characters"),
        ));
    }
    Ok(())
}

impl App {
    /// A staff member changes their own name or photo.
    pub async fn edit_me(&self, actor: &Account, edit: &MeEdit) -> Result<Account, Error> {
        check_staff(actor)?;
        if let Some(name) = &edit.name {
            crate::app::check_text("name", name, 200)?;
        }
        let avatar_url = match edit.avatar_url.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(url) => {
                crate::websites::check_image_url("avatar_url", url)?;
                Some(Some(url))
            }
        };
        let name = edit.name.as_deref().map(str::trim);
        let updated = self
            .store
            .update_staff_profile(actor.id, name, avatar_url)
            .await
            .map_err(Self::public_error)?;
        // The name and photo are what customers see of the person: who changed them, and to
        // what, belongs in the workspace's record.
        self.audit(
            actor,
            "account.profile_changed",
            Some(("account", actor.id.to_string())),
            serde_json::json!({"name": name, "avatar_url": edit.avatar_url}),
        )
        .await;
        Ok(updated)
    }

    /// The inbox query an actor may run: their websites, the view, filters and page size.
    async fn inbox_query(&self, actor: &Account, p: &InboxParams) -> Result<InboxQuery, Error> {
        check_staff(actor)?;
        let view = match p.view.as_deref().unwrap_or("all") {
            "all" => InboxView::All,
            "mine" => InboxView::Mine,
            "unassigned" => InboxView::Unassigned,
            _ => return Err(Error::invalid("view must be all, mine or unassigned")),
        };
        if let Some(status) = &p.status
            && ConversationStatus::parse(status).is_none()
        {
            return Err(Error::invalid(
                "status must be open, pending, resolved or archived",
            ));
        }
        let oldest_first = match p.sort.as_deref().unwrap_or("activity") {
            "activity" => false,
            "waiting" => true,
            _ => return Err(Error::invalid("sort must be activity or waiting")),
        };
        let label = p
            .label
            .as_deref()
            .map(desk::normalise_label)
            .transpose()
            .map_err(Error::invalid)?;
        if let Some(q) = &p.q
            && q.chars().count() > desk::MAX_SEARCH_CHARS
        {
            return Err(Error::new(
                ErrorCode::TooLarge,
                format!("q has at most {} characters", desk::MAX_SEARCH_CHARS),
            ));
        }
        if p.cursor.as_ref().is_some_and(|c| c.len() > 64) {
            return Err(Error::invalid("cursor is not one this server returned"));
        }
        let max = self.config.limits.page_max;
        let limit = match p.limit {
            None => 50.min(max),
            Some(n) if (1..=max).contains(&n) => n,
            Some(_) => return Err(Error::invalid(format!("limit must be 1 to {max}"))),
        };
        let (websites, include_no_website) = self
            .inbox_websites(actor, p.website_id.map(WebsiteId))
            .await?;
        Ok(InboxQuery {
            viewer: actor.id,
            websites,
            include_no_website,
            view,
            status: p.status.clone(),
            label,
            search: p.q.clone(),
            oldest_first,
            limit,
            cursor: p.cursor.clone(),
        })
    }

    /// Which websites' conversations an actor's inbox covers: admins every one (or the one they
    /// name), agents those they serve (and chats from no website).
    async fn inbox_websites(
        &self,
        actor: &Account,
        website: Option<WebsiteId>,
    ) -> Result<(Option<Vec<WebsiteId>>, bool), Error> {
        let admin = is_admin(actor);
        if let Some(w) = website
            && admin
        {
            // Another workspace's website is not one an admin may name either.
            self.store
                .website(actor.workspace_id, w)
                .await
                .map_err(Self::public_error)?;
            return Ok((Some(vec![w]), false));
        }
        if admin {
            return Ok((None, true));
        }
        let served: Vec<WebsiteId> = self
            .list_websites(actor)
            .await?
            .iter()
            .map(|w| w.record.id)
            .collect();
        match website {
            Some(w) if served.contains(&w) => Ok((Some(vec![w]), false)),
            Some(_) => Err(Error::not_found("website")),
            None => Ok((Some(served), true)),
        }
    }

    /// A page of the inbox.
    pub async fn inbox(&self, actor: &Account, params: &InboxParams) -> Result<InboxPage, Error> {
        let query = self.inbox_query(actor, params).await?;
        let rows = self
            .store
            .inbox(actor.workspace_id, &query)
            .await
            .map_err(Self::public_error)?;
        Ok(InboxPage {
            items: rows.items,
            next_cursor: rows.next_cursor,
        })
    }

    /// How many open or pending conversations each view holds (within the given website and
    /// search, if any).
    pub async fn inbox_counts(
        &self,
        actor: &Account,
        params: &InboxParams,
    ) -> Result<InboxCounts, Error> {
        let query = self.inbox_query(actor, params).await?;
        let t = self
            .store
            .inbox_tallies(actor.workspace_id, &query)
            .await
            .map_err(Self::public_error)?;
        Ok(InboxCounts {
            all: t.all,
            mine: t.mine,
            unassigned: t.unassigned,
            unread_mine: t.unread_mine,
            by_website: t.by_website,
            by_label: t.by_label,
        })
    }

    /// Labels in use on the conversations the actor may see.
    pub async fn labels_in_use(&self, actor: &Account) -> Result<Vec<LabelCount>, Error> {
        let query = self.inbox_query(actor, &InboxParams::default()).await?;
        self.store
            .label_counts(actor.workspace_id, &query, false)
            .await
            .map_err(Self::public_error)
    }

    /// Replaces a conversation's labels; the staff who serve it hear `inbox_changed`.
    pub async fn set_labels(
        &self,
        actor: &Account,
        id: ConversationId,
        labels: &[String],
    ) -> Result<Vec<String>, Error> {
        check_staff(actor)?;
        let labels = desk::normalise_labels(labels).map_err(Error::invalid)?;
        let (conversation, _) = self.conversation(actor, id).await?;
        let stored = self
            .store
            .set_labels(actor.workspace_id, id, &labels)
            .await
            .map_err(Self::public_error)?;
        self.announce_inbox_change(&conversation).await;
        Ok(stored)
    }

    /// Tells the staff who may see a conversation that its inbox row changed.
    pub(crate) async fn announce_inbox_change(
        &self,
        conversation: &natter_core::model::Conversation,
    ) {
        let frame = ServerFrame::InboxChanged {
            conversation: conversation.clone(),
        };
        let site = match conversation.website_id {
            Some(w) => match self.websites.by_id(self, w).await {
                Ok(site) => site,
                Err(e) => {
                    tracing::warn!(error = %e.message, "cannot load a website to notify its staff");
                    return;
                }
            },
            None => None,
        };
        match site {
            Some(site) => self.notify_staff(&site, &frame).await,
            None => {
                let staff = match self.store.staff(conversation.workspace_id).await {
                    Ok(staff) => staff,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot load staff to notify");
                        return;
                    }
                };
                let ids: Vec<AccountId> = staff.iter().map(|a| a.id).collect();
                match serde_json::to_vec(&frame) {
                    Ok(json) => self.fanout.ephemeral(&ids, json.into()),
                    Err(e) => tracing::error!(error = %e, "cannot serialise an inbox frame"),
                }
            }
        }
    }

    pub async fn canned_responses(&self, actor: &Account) -> Result<Vec<CannedResponse>, Error> {
        check_staff(actor)?;
        self.store
            .canned_responses(actor.workspace_id, actor.id)
            .await
            .map_err(Self::public_error)
    }

    fn check_canned_fields(
        shortcut: Option<&str>,
        title: Option<&str>,
        body: Option<&str>,
    ) -> Result<(), Error> {
        if let Some(s) = shortcut {
            desk::check_shortcut(s).map_err(Error::invalid)?;
        }
        if let Some(t) = title {
            check_chars("title", t, desk::MAX_CANNED_TITLE_CHARS)?;
        }
        if let Some(b) = body {
            check_chars("body", b, desk::MAX_CANNED_BODY_CHARS)?;
        }
        Ok(())
    }

    pub async fn create_canned(
        &self,
        actor: &Account,
        input: &CannedInput,
    ) -> Result<CannedResponse, Error> {
        check_staff(actor)?;
        let shared = input.shared.unwrap_or(false);
        if shared && !is_admin(actor) {
            return Err(Error::forbidden(
                "only owners and admins create workspace-wide canned responses",
            ));
        }
        Self::check_canned_fields(Some(&input.shortcut), Some(&input.title), Some(&input.body))?;
        let created = self
            .store
            .create_canned(
                actor.workspace_id,
                (!shared).then_some(actor.id),
                &input.shortcut,
                input.title.trim(),
                &input.body,
                desk::MAX_CANNED_PER_WORKSPACE,
            )
            .await
            .map_err(Self::public_error)?;
        if shared {
            self.audit(
                actor,
                "canned_response.created",
                Some(("canned_response", created.id.to_string())),
                serde_json::json!({"shortcut": created.shortcut}),
            )
            .await;
        }
        Ok(created)
    }

    /// The canned response if the actor may change it: their own, or (admins) a shared one.
    /// Someone else's personal response is "not found", not "forbidden".
    async fn own_canned(&self, actor: &Account, id: i64) -> Result<CannedResponse, Error> {
        check_staff(actor)?;
        let found = self
            .store
            .canned_response(actor.workspace_id, id)
            .await
            .map_err(Self::public_error)?;
        match found.owner_id {
            Some(owner) if owner == actor.id => Ok(found),
            Some(_) => Err(Error::not_found("canned response")),
            None if is_admin(actor) => Ok(found),
            None => Err(Error::forbidden(
                "only owners and admins change workspace-wide canned responses",
            )),
        }
    }

    pub async fn update_canned(
        &self,
        actor: &Account,
        id: i64,
        patch: &CannedPatch,
    ) -> Result<CannedResponse, Error> {
        let found = self.own_canned(actor, id).await?;
        Self::check_canned_fields(
            patch.shortcut.as_deref(),
            patch.title.as_deref(),
            patch.body.as_deref(),
        )?;
        let fields = CannedFields {
            shortcut: patch.shortcut.clone(),
            title: patch.title.as_deref().map(|t| t.trim().to_string()),
            body: patch.body.clone(),
        };
        let updated = self
            .store
            .update_canned(actor.workspace_id, id, &fields)
            .await
            .map_err(Self::public_error)?;
        if found.shared {
            self.audit(
                actor,
                "canned_response.changed",
                Some(("canned_response", id.to_string())),
                serde_json::json!({"shortcut": updated.shortcut}),
            )
            .await;
        }
        Ok(updated)
    }

    pub async fn delete_canned(&self, actor: &Account, id: i64) -> Result<(), Error> {
        let found = self.own_canned(actor, id).await?;
        self.store
            .delete_canned(actor.workspace_id, id)
            .await
            .map_err(Self::public_error)?;
        if found.shared {
            self.audit(
                actor,
                "canned_response.deleted",
                Some(("canned_response", id.to_string())),
                serde_json::json!({"shortcut": found.shortcut}),
            )
            .await;
        }
        Ok(())
    }

    pub async fn preferences(&self, actor: &Account) -> Result<AgentPreferences, Error> {
        check_staff(actor)?;
        let stored = self
            .store
            .preferences(actor.id)
            .await
            .map_err(Self::public_error)?;
        match stored {
            None => Ok(AgentPreferences::default()),
            // Written by `set_preferences` only; an unreadable value falls back to defaults
            // rather than locking the agent out of their workspace.
            Some(json) => Ok(serde_json::from_str(&json).unwrap_or_else(|e| {
                tracing::warn!(error = %e, account = actor.id.0, "unreadable preferences");
                AgentPreferences::default()
            })),
        }
    }

    pub async fn set_preferences(
        &self,
        actor: &Account,
        prefs: &AgentPreferences,
    ) -> Result<AgentPreferences, Error> {
        check_staff(actor)?;
        prefs.check().map_err(Error::invalid)?;
        if let Some(q) = &prefs.quiet_hours
            && natter_visitor::hours::local_time(0, &q.time_zone).is_none()
        {
            return Err(Error::invalid(
                "quiet_hours.time_zone must be an IANA time zone",
            ));
        }
        let json = serde_json::to_string(prefs).map_err(|_| Error::internal())?;
        self.store
            .set_preferences(actor.id, &json)
            .await
            .map_err(Self::public_error)?;
        Ok(prefs.clone())
    }

    /// Staff correct a contact's details (those who serve the contact's website).
    pub async fn edit_contact(
        &self,
        actor: &Account,
        contact: AccountId,
        edit: &ContactEdit,
    ) -> Result<ProfileSaved, Error> {
        check_staff(actor)?;
        let account = self
            .store
            .account_in(actor.workspace_id, contact)
            .await
            .map_err(Self::public_error)?;
        if account.is_staff() {
            return Err(Error::not_found("contact"));
        }
        let profile = self
            .store
            .contact_profile(contact)
            .await
            .map_err(Self::public_error)?;
        self.check_serves(actor, profile.website_id)
            .await
            .map_err(|_| Error::not_found("contact"))?;
        for (field, value, max) in [
            ("name", &edit.name, 200),
            ("phone", &edit.phone, 40),
            ("company", &edit.company, 200),
        ] {
            if let Some(v) = value {
                check_chars(field, v, max)?;
                if v.chars().any(char::is_control) {
                    return Err(Error::invalid(format!(
                        "{field} must not contain control characters"
                    )));
                }
            }
        }
        if let Some(email) = &edit.email {
            crate::app::check_email(email)?;
        }
        if account.identity == Some(IdentityState::Verified)
            && (edit.name.is_some() || edit.email.is_some())
        {
            return Err(Error::new(
                ErrorCode::Conflict,
                "a verified contact's name and email come from your platform",
            ));
        }
        let (contact, profile) = self
            .store
            .update_contact_profile(
                contact,
                None,
                &ProfileUpdate {
                    name: edit.name.as_deref().map(|v| v.trim().to_string()),
                    email: edit.email.clone(),
                    phone: edit.phone.clone(),
                    company: edit.company.clone(),
                    ..Default::default()
                },
            )
            .await
            .map_err(Self::public_error)?;
        let changed: Vec<&str> = [
            edit.name.as_ref().map(|_| "name"),
            edit.email.as_ref().map(|_| "email"),
            edit.phone.as_ref().map(|_| "phone"),
            edit.company.as_ref().map(|_| "company"),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.audit(
            actor,
            "contact.edited",
            Some(("contact", contact.id.to_string())),
            serde_json::json!({ "fields": changed }),
        )
        .await;
        Ok(ProfileSaved { contact, profile })
    }

    /// Applies one action to many conversations; each succeeds or fails on its own.
    pub async fn bulk(
        &self,
        actor: &Account,
        req: &BulkRequest,
    ) -> Result<Vec<BulkOutcome>, Error> {
        check_staff(actor)?;
        let n = req.conversation_ids.len();
        if n == 0 || n > desk::MAX_BULK {
            return Err(Error::invalid(format!(
                "conversation_ids must hold 1 to {} conversations",
                desk::MAX_BULK
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if !req.conversation_ids.iter().all(|id| seen.insert(*id)) {
            return Err(Error::invalid("conversation_ids must be distinct"));
        }
        let action = match Bulk::parse(req, actor.id)? {
            // Looked up once for the whole request, not once per conversation.
            Bulk::Assign(Target::Id(id)) => {
                let agent = self
                    .store
                    .staff(actor.workspace_id)
                    .await
                    .map_err(Self::public_error)?
                    .into_iter()
                    .find(|a| a.id == id)
                    .ok_or_else(|| Error::invalid("account_id must be an active staff member"))?;
                Bulk::Assign(Target::Account(Box::new(agent)))
            }
            other => other,
        };
        let mut results = Vec::with_capacity(n);
        for &id in &req.conversation_ids {
            let outcome = self.bulk_one(actor, id, &action).await;
            results.push(BulkOutcome {
                conversation_id: id,
                ok: outcome.is_ok(),
                code: outcome.err().map(|e| e.code.as_str().to_string()),
            });
        }
        Ok(results)
    }

    async fn bulk_one(
        &self,
        actor: &Account,
        id: ConversationId,
        action: &Bulk,
    ) -> Result<(), Error> {
        let (conversation, _) = self.conversation(actor, id).await?;
        match action {
            Bulk::Status(status) => {
                self.update_conversation(actor, id, Some(*status), None)
                    .await?;
            }
            Bulk::Assign(Target::Account(agent)) => {
                self.assign(actor, &conversation, agent).await?;
            }
            Bulk::Assign(Target::Id(_)) => return Err(Error::internal()),
            Bulk::Label(label) => {
                self.store
                    .add_label(actor.workspace_id, id, label, desk::MAX_LABELS)
                    .await
                    .map_err(Self::public_error)?;
                self.announce_inbox_change(&conversation).await;
            }
            Bulk::Unlabel(label) => {
                self.store
                    .remove_label(id, label)
                    .await
                    .map_err(Self::public_error)?;
                self.announce_inbox_change(&conversation).await;
            }
        }
        Ok(())
    }

    /// Makes `agent` the conversation's agent: they join it (if they are not in it) and it
    /// leaves the queue as their assignment.
    pub async fn assign(
        &self,
        actor: &Account,
        conversation: &natter_core::model::Conversation,
        agent_account: &Account,
    ) -> Result<(), Error> {
        let agent = agent_account.id;
        if let Some(w) = conversation.website_id
            && let Some(site) = self.websites.by_id(self, w).await?
            && !site.served_by(agent_account)
        {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "that agent does not serve this conversation's website",
            ));
        }
        let participants = self
            .store
            .participants(conversation.id)
            .await
            .map_err(Self::public_error)?;
        let present = participants
            .iter()
            .any(|p| p.account_id == agent && p.left_at.is_none());
        if !present {
            self.add_participant(
                actor,
                conversation.id,
                agent,
                ParticipantRole::Agent,
                Visibility::Full,
            )
            .await?;
        }
        if self
            .store
            .dequeue(conversation.id)
            .await
            .map_err(Self::public_error)?
        {
            self.store
                .reassign(actor.workspace_id, conversation.id, agent)
                .await
                .map_err(Self::public_error)?;
            self.route(actor.workspace_id).await?;
        }
        self.announce_inbox_change(conversation).await;
        Ok(())
    }
}

/// Who an `assign` is for: the id as asked, then the staff member once looked up.
enum Target {
    Id(AccountId),
    Account(Box<Account>),
}

/// A parsed bulk action.
enum Bulk {
    Status(ConversationStatus),
    Assign(Target),
    Label(String),
    Unlabel(String),
}

impl Bulk {
    fn parse(req: &BulkRequest, caller: AccountId) -> Result<Self, Error> {
        let label = || {
            req.label
                .as_deref()
                .ok_or_else(|| Error::invalid("label is needed for this action"))
                .and_then(|l| desk::normalise_label(l).map_err(Error::invalid))
        };
        Ok(match req.action.as_str() {
            "resolve" => Self::Status(ConversationStatus::Resolved),
            "reopen" => Self::Status(ConversationStatus::Open),
            "archive" => Self::Status(ConversationStatus::Archived),
            "assign" => Self::Assign(Target::Id(req.account_id.unwrap_or(caller))),
            "label" => Self::Label(label()?),
            "unlabel" => Self::Unlabel(label()?),
            _ => {
                return Err(Error::invalid(
                    "action must be resolve, reopen, archive, assign, label or unlabel",
                ));
            }
        })
    }
}
