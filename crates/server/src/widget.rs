//! What the widget does on a visitor's behalf: start a visit, identify, fill in a profile,
//! follow the page trail, track events, leave an offline message. Every call names the
//! website by key, comes from one of its allowed origins, and (after the first) carries a
//! visitor token bound to that website.

use std::sync::Arc;

pub use natter_core::api::{
    Activity, OfflineMessage, OfflineReceived, PageInfo, ProfileInput, ScreenInfo, TrackedEvent,
    VisitorStart, VisitorStarted, WidgetIdentified, WidgetIdentify,
};
use natter_core::model::{
    Account, ConversationKind, MessageFormat, MessageKind, ParticipantRole, Visibility,
};
use natter_core::time::now_millis;
use natter_core::website::{ContactProfile, VisitorSession};
use natter_core::{ConversationId, Error, ErrorCode};
use natter_store::{NewVisitorSession, ProfileUpdate};

use crate::app::{App, CreateConversation, PostMessage};
use crate::auth::{Principal, Via};
use crate::contact_identity::Identify;
use crate::ratelimit::Limit;
use crate::websites::{Enricher, RequestFacts, Website, kept_ip};

/// A visit is continued (not restarted) when the visitor was seen this recently.
const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;
/// Page views kept per session (the session still follows the visitor past it).
const MAX_PAGE_VIEWS: i64 = 500;
const MAX_URL: usize = 2048;
const MAX_TITLE: usize = 300;

fn optional_text(field: &str, value: &Option<String>, max: usize) -> Result<(), Error> {
    if let Some(v) = value
        && (v.len() > max || v.chars().any(char::is_control))
    {
        return Err(Error::invalid(format!(
            "{field} must be at most {max} bytes without control characters"
        )));
    }
    Ok(())
}

fn is_verified(account: &Account) -> bool {
    account.identity == Some(natter_core::model::IdentityState::Verified)
}

fn check_page(page: &PageInfo) -> Result<(), Error> {
    if !(page.url.starts_with("http://") || page.url.starts_with("https://")) {
        return Err(Error::invalid("page.url must be an http(s) URL"));
    }
    optional_text("page.url", &Some(page.url.clone()), MAX_URL)?;
    optional_text("page.title", &page.title, MAX_TITLE)?;
    optional_text("page.referrer", &page.referrer, MAX_URL)
}

/// Custom data and form fields: a flat object of at most 50 short values.
fn check_object(
    field: &str,
    value: &Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<(), Error> {
    let Some(map) = value else {
        return Ok(());
    };
    if map.len() > 50 {
        return Err(Error::invalid(format!("{field}: at most 50 keys")));
    }
    for (k, v) in map {
        if k.is_empty() || k.len() > 64 {
            return Err(Error::invalid(format!("{field}: keys are 1 to 64 bytes")));
        }
        let ok = match v {
            serde_json::Value::String(s) => s.len() <= 1000,
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null => {
                true
            }
            _ => false,
        };
        if !ok {
            return Err(Error::invalid(format!(
                "{field}.{k}: values are strings (≤ 1000 bytes), numbers or booleans"
            )));
        }
    }
    Ok(())
}

fn tracking_allowed(site: &Website, consent: bool) -> bool {
    !site.settings.privacy.consent_required || consent
}

impl App {
    async fn site_by_key(&self, key: &str, facts: &RequestFacts) -> Result<Arc<Website>, Error> {
        let site = self
            .websites
            .by_key(self, key)
            .await?
            .ok_or_else(|| Error::not_found("website"))?;
        App::check_origin(&site, facts.origin.as_deref(), facts.host.as_deref())?;
        Ok(site)
    }

    /// The visitor behind a widget call: a contact token bound to the website `key` names.
    async fn visitor(
        &self,
        principal: &Principal,
        key: &str,
        facts: &RequestFacts,
    ) -> Result<Arc<Website>, Error> {
        let site = self.site_by_key(key, facts).await?;
        match principal.via {
            Via::Contact { website: Some(w) } if w == site.record.id => Ok(site),
            _ => Err(Error::forbidden(
                "widget calls need a visitor token of this website",
            )),
        }
    }

    async fn website_limit(
        &self,
        limit: Limit,
        budget: u32,
        site: &Website,
        key: &str,
    ) -> Result<(), Error> {
        self.limits
            .check_budget(limit, &format!("{}:{key}", site.record.id.0), budget)
            .await
    }

    /// Starts (or continues) a visit: the widget's first call on every page.
    pub async fn start_visitor(
        &self,
        key: &str,
        facts: &RequestFacts,
        req: VisitorStart,
    ) -> Result<VisitorStarted, Error> {
        let site = self.site_by_key(key, facts).await?;
        if let Some(page) = &req.page {
            check_page(page)?;
        }
        optional_text("language", &req.language, 35)?;
        optional_text("time_zone", &req.time_zone, 64)?;
        // A stored token continues the same visitor; anything else is a new one.
        let known = match &req.token {
            Some(token) => match self.authenticate(token).await {
                Ok(p) if matches!(p.via, Via::Contact { website: Some(w) } if w == site.record.id) => {
                    Some(p.account)
                }
                _ => None,
            },
            None => None,
        };
        let contact = match known {
            Some(contact) => contact,
            None => {
                let ip = facts.ip.map(|ip| ip.to_string()).unwrap_or_default();
                self.website_limit(
                    Limit::WebsiteVisitorsPerIp,
                    site.settings.rate_limits.visitors_per_ip,
                    &site,
                    &ip,
                )
                .await?;
                self.store
                    .create_visitor(site.record.workspace_id, site.record.id)
                    .await
                    .map_err(Self::public_error)?
            }
        };
        let session_id = if tracking_allowed(&site, req.consent) {
            let (session, fresh) = self.continue_session(&site, &contact, facts, &req).await?;
            let id = session.id;
            let action = if fresh { "arrived" } else { "page" };
            self.notify_visitor(&site, session, action).await;
            Some(id)
        } else {
            None
        };
        let conversation_id = self
            .store
            .latest_open_conversation(contact.id, site.record.id)
            .await
            .map_err(Self::public_error)?;
        let (token, expires_at) = self.visitor_token(&contact, Some(site.record.id))?;
        Ok(VisitorStarted {
            contact,
            token,
            expires_at,
            session_id,
            conversation_id,
        })
    }

    async fn continue_session(
        &self,
        site: &Website,
        contact: &Account,
        facts: &RequestFacts,
        req: &VisitorStart,
    ) -> Result<(VisitorSession, bool), Error> {
        let since = now_millis() - SESSION_IDLE_MS;
        let recent = self
            .store
            .recent_visitor_session(site.record.id, contact.id, since)
            .await
            .map_err(Self::public_error)?;
        if let Some(session) = recent {
            let session = match &req.page {
                Some(page) => self
                    .store
                    .record_page_view(
                        session.id,
                        &page.url,
                        page.title.as_deref(),
                        page.referrer.as_deref(),
                        MAX_PAGE_VIEWS,
                    )
                    .await
                    .map_err(Self::public_error)?,
                None => session,
            };
            return Ok((session, false));
        }
        let page = req.page.clone().unwrap_or_default();
        let traffic = if page.url.is_empty() {
            natter_core::website::Traffic {
                source: "direct".into(),
                ..Default::default()
            }
        } else {
            Enricher::traffic(&page.url, page.referrer.as_deref())
        };
        let new = NewVisitorSession {
            website_id: site.record.id,
            account_id: contact.id,
            ip: kept_ip(facts.ip, &site.settings.privacy.ip_mode),
            location: self.enricher.location(facts.ip),
            device: Enricher::device(facts.user_agent.as_deref()),
            user_agent: facts.user_agent.clone(),
            traffic,
            screen_width: req.screen.as_ref().map(|s| s.width.clamp(0, 100_000)),
            screen_height: req.screen.as_ref().map(|s| s.height.clamp(0, 100_000)),
            language: req.language.clone(),
            time_zone: req.time_zone.clone(),
            page_url: Some(page.url.clone()).filter(|u| !u.is_empty()),
            page_title: page.title.clone(),
        };
        let session = self
            .store
            .start_visitor_session(&new)
            .await
            .map_err(Self::public_error)?;
        Ok((session, true))
    }

    /// The visitor's current session, if tracking is on and one is recent.
    async fn current_session(
        &self,
        site: &Website,
        contact: &Account,
    ) -> Result<Option<VisitorSession>, Error> {
        self.store
            .recent_visitor_session(site.record.id, contact.id, now_millis() - SESSION_IDLE_MS)
            .await
            .map_err(Self::public_error)
    }

    /// `identify` from the host page: proves (or claims, where allowed) who the visitor is
    /// and saves the details given.
    pub async fn widget_identify(
        &self,
        principal: &Principal,
        key: &str,
        facts: &RequestFacts,
        req: WidgetIdentify,
    ) -> Result<WidgetIdentified, Error> {
        let site = self.visitor(principal, key, facts).await?;
        optional_text("phone", &req.phone, 40)?;
        optional_text("company", &req.company, 200)?;
        check_object("custom_data", &req.custom_data)?;
        if req.user_id.is_none() && req.token.is_none() {
            // Details without a claimed identity (`identify({name, email})`): they describe
            // this visitor, who keeps their contact, token and conversations. Treating them
            // as a new person would strand the chat the visitor already has open.
            if req.user_hash.is_some() {
                return Err(Error::invalid(
                    "user_hash needs the user_id it was made for",
                ));
            }
            return self.identify_details(principal, &site, req).await;
        }
        let (contact, _, _) = self
            .identify_contact(Identify {
                workspace: site.record.workspace_id,
                user_id: req.user_id,
                user_hash: req.user_hash,
                jwt: req.token,
                name: req.name,
                email: req.email,
                website_secret: site.record.hmac_secret.clone(),
                upgrade: Some(principal.account.id),
            })
            .await?;
        let (contact, profile) = self
            .store
            .update_contact_profile(
                contact.id,
                Some(site.record.id),
                &ProfileUpdate {
                    phone: req.phone,
                    company: req.company,
                    custom_data: req.custom_data,
                    ..Default::default()
                },
            )
            .await
            .map_err(Self::public_error)?;
        self.identified(contact, profile, &site)
    }

    /// `identify` with details only: saved on the calling visitor like a profile.
    async fn identify_details(
        &self,
        principal: &Principal,
        site: &Website,
        req: WidgetIdentify,
    ) -> Result<WidgetIdentified, Error> {
        let settings = self
            .store
            .contact_identity(site.record.workspace_id)
            .await
            .map_err(Self::public_error)?;
        if settings.require_verified && !is_verified(&principal.account) {
            return Err(Error::forbidden(
                "this workspace only talks to verified contacts: identify with user_hash or a token",
            ));
        }
        let (contact, profile) = self
            .save_details(
                principal,
                site,
                ProfileUpdate {
                    name: req.name,
                    email: req.email,
                    phone: req.phone,
                    company: req.company,
                    custom_data: req.custom_data,
                    fields: None,
                },
            )
            .await?;
        self.identified(contact, profile, site)
    }

    /// The answer to `identify`: the contact with a fresh visitor token of this website.
    fn identified(
        &self,
        contact: Account,
        profile: ContactProfile,
        site: &Website,
    ) -> Result<WidgetIdentified, Error> {
        let (token, expires_at) = self.visitor_token(&contact, Some(site.record.id))?;
        Ok(WidgetIdentified {
            contact,
            profile,
            token,
            expires_at,
        })
    }

    /// Saves pre-chat answers or details given later (progressive profiling).
    pub async fn widget_profile(
        &self,
        principal: &Principal,
        key: &str,
        facts: &RequestFacts,
        req: ProfileInput,
    ) -> Result<(Account, ContactProfile), Error> {
        let site = self.visitor(principal, key, facts).await?;
        optional_text("phone", &req.phone, 40)?;
        check_object("fields", &req.fields)?;
        self.save_details(
            principal,
            &site,
            ProfileUpdate {
                name: req.name,
                email: req.email,
                phone: req.phone,
                fields: req.fields,
                ..Default::default()
            },
        )
        .await
    }

    /// Saves what a visitor told about themselves on their own contact. A verified
    /// visitor's name and email come from their platform, not from a form or a script.
    async fn save_details(
        &self,
        principal: &Principal,
        site: &Website,
        mut update: ProfileUpdate,
    ) -> Result<(Account, ContactProfile), Error> {
        if let Some(name) = &update.name {
            // A name of only spaces would show agents a blank person.
            crate::app::check_text("name", name, 200)?;
        }
        if let Some(email) = &update.email {
            crate::app::check_email(email)?;
        }
        if is_verified(&principal.account) {
            update.name = None;
            update.email = None;
        }
        self.store
            .update_contact_profile(principal.account.id, Some(site.record.id), &update)
            .await
            .map_err(Self::public_error)
    }

    async fn tracking(
        &self,
        principal: &Principal,
        key: &str,
        facts: &RequestFacts,
    ) -> Result<Arc<Website>, Error> {
        let site = self.visitor(principal, key, facts).await?;
        self.website_limit(
            Limit::WebsiteTrackingPerVisitor,
            site.settings.rate_limits.tracking_per_visitor,
            &site,
            &principal.account.id.to_string(),
        )
        .await?;
        Ok(site)
    }

    /// A page view (the host page navigated, e.g. in a single-page app).
    pub async fn widget_page_view(
        &self,
        principal: &Principal,
        key: &str,
        facts: &RequestFacts,
        page: PageInfo,
    ) -> Result<(), Error> {
        // Who is asking comes first: a caller without this website's visitor token hears 403
        // whatever the body says.
        let site = self.tracking(principal, key, facts).await?;
        check_page(&page)?;
        let (session, action) = match self.current_session(&site, &principal.account).await? {
            Some(session) => {
                let session = self
                    .store
                    .record_page_view(
                        session.id,
                        &page.url,
                        page.title.as_deref(),
                        page.referrer.as_deref(),
                        MAX_PAGE_VIEWS,
                    )
                    .await
                    .map_err(Self::public_error)?;
                (session, "page")
            }
            None => {
                // The visit lapsed while the page stayed open: start a new one from here.
                let start = VisitorStart {
                    page: Some(page),
                    consent: true,
                    ..Default::default()
                };
                let (session, _) = self
                    .continue_session(&site, &principal.account, facts, &start)
                    .await?;
                (session, "arrived")
            }
        };
        self.notify_visitor(&site, session, action).await;
        Ok(())
    }

    /// A heartbeat while the page is visible, the exit-intent signal, or the page closing.
    pub async fn widget_activity(
        &self,
        principal: &Principal,
        key: &str,
        facts: &RequestFacts,
        activity: Activity,
    ) -> Result<(), Error> {
        let site = self.tracking(principal, key, facts).await?;
        if let Some(session) = self.current_session(&site, &principal.account).await? {
            self.store
                .touch_visitor_session(session.id, activity.exit_intent, !activity.visible)
                .await
                .map_err(Self::public_error)?;
            if !activity.visible {
                self.notify_visitor(&site, session, "left").await;
            }
        }
        Ok(())
    }

    /// `track(name, properties)`: a custom event, e.g. a purchase with its value.
    pub async fn widget_track(
        &self,
        principal: &Principal,
        key: &str,
        facts: &RequestFacts,
        event: TrackedEvent,
    ) -> Result<(), Error> {
        let site = self.tracking(principal, key, facts).await?;
        let name_ok = !event.name.is_empty()
            && event.name.len() <= 64
            && !event.name.chars().any(char::is_control);
        if !name_ok {
            return Err(Error::invalid("name must be 1 to 64 bytes"));
        }
        check_object("properties", &event.properties)?;
        if event.value.is_some_and(|v| !v.is_finite()) {
            return Err(Error::invalid("value must be a finite number"));
        }
        if let Some(c) = &event.currency
            && !(c.len() == 3 && c.chars().all(|c| c.is_ascii_uppercase()))
        {
            return Err(Error::invalid("currency must be an ISO 4217 code like GBP"));
        }
        let Some(session) = self.current_session(&site, &principal.account).await? else {
            // No visit is being tracked (no consent yet): nothing to attach it to.
            return Err(Error::new(
                ErrorCode::Conflict,
                "no visit is being tracked for this visitor",
            ));
        };
        let properties = event
            .properties
            .map(|p| serde_json::Value::Object(p).to_string());
        self.store
            .record_visitor_event(
                &session,
                &event.name,
                properties.as_deref(),
                event.value,
                event.currency.as_deref(),
            )
            .await
            .map_err(Self::public_error)
    }

    /// The offline form: saves the details and opens a conversation (status `pending`)
    /// holding the message, for agents to answer by email or when the visitor returns.
    pub async fn widget_offline(
        &self,
        principal: &Principal,
        key: &str,
        facts: &RequestFacts,
        form: OfflineMessage,
    ) -> Result<ConversationId, Error> {
        let site = self.visitor(principal, key, facts).await?;
        self.website_limit(
            Limit::WebsiteMessagesPerVisitor,
            site.settings.rate_limits.messages_per_visitor,
            &site,
            &principal.account.id.to_string(),
        )
        .await?;
        let (contact, _) = self
            .widget_profile(
                principal,
                key,
                facts,
                ProfileInput {
                    name: form.name,
                    email: Some(form.email),
                    phone: None,
                    fields: form.fields,
                },
            )
            .await?;
        let (conversation, _) = self
            .create_conversation(
                &contact,
                CreateConversation {
                    kind: ConversationKind::Support,
                    subject: Some("Offline message".into()),
                    listing: None,
                    website_id: Some(site.record.id),
                    participants: vec![(contact.id, ParticipantRole::Customer, Visibility::Full)],
                },
            )
            .await?;
        self.post_message(
            &contact,
            PostMessage {
                conversation_id: conversation.id,
                client_msg_id: Some("offline-form".into()),
                kind: Some(MessageKind::Text),
                format: Some(MessageFormat::Plain),
                body: form.message,
            },
        )
        .await?;
        // Marked pending: it waits for an agent's reply by email or on the visitor's return.
        let conversation = self
            .commit(self.store.update_conversation(
                contact.workspace_id,
                conversation.id,
                Some(natter_core::model::ConversationStatus::Pending),
                None,
            ))
            .await?;
        self.notify_staff(
            &site,
            &natter_core::protocol::ServerFrame::InboxChanged {
                conversation: conversation.clone(),
            },
        )
        .await;
        Ok(conversation.id)
    }

    /// The per-website message budget of a visitor (called by both edges before a send).
    pub async fn check_visitor_send(&self, principal: &Principal) -> Result<(), Error> {
        let Via::Contact {
            website: Some(website),
        } = principal.via
        else {
            return Ok(());
        };
        let Some(site) = self.websites.by_id(self, website).await? else {
            return Ok(());
        };
        self.website_limit(
            Limit::WebsiteMessagesPerVisitor,
            site.settings.rate_limits.messages_per_visitor,
            &site,
            &principal.account.id.to_string(),
        )
        .await
    }
}
