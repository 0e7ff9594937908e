//! Websites (widget installations), contacts' profiles, and visitor sessions with their
//! page trail and tracked events.

use natter_core::ids::{AccountId, WebsiteId, WorkspaceId};
use natter_core::model::{Account, IdentityState};
use natter_core::time::{Millis, now_millis};
use natter_core::website::{ContactProfile, Device, Location, PageView, Traffic, VisitorSession};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::not_found;
use crate::rows::{self, account_columns};
use crate::{Store, StoreError};

/// A website as stored. `settings` is the admin-edited JSON, validated by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsiteRecord {
    pub id: WebsiteId,
    pub workspace_id: WorkspaceId,
    pub key: String,
    pub name: String,
    pub settings: String,
    /// Sealed `user_hash` secret; `None` falls back to the workspace's.
    pub hmac_secret: Option<Vec<u8>>,
    /// True when only `agents` may serve it (otherwise every agent may).
    pub listed_agents_only: bool,
    pub agents: Vec<AccountId>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A change to a website: `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct WebsiteUpdate {
    pub name: Option<String>,
    pub settings: Option<String>,
    /// `Some((listed_only, agents))` replaces who may serve the website.
    pub access: Option<(bool, Vec<AccountId>)>,
}

/// A visit to start, already enriched by the server.
#[derive(Debug, Clone)]
pub struct NewVisitorSession {
    pub website_id: WebsiteId,
    pub account_id: AccountId,
    pub ip: Option<String>,
    pub location: Location,
    pub device: Device,
    pub user_agent: Option<String>,
    pub traffic: Traffic,
    pub screen_width: Option<i64>,
    pub screen_height: Option<i64>,
    pub language: Option<String>,
    pub time_zone: Option<String>,
    /// The first page (also recorded as the first page view).
    pub page_url: Option<String>,
    pub page_title: Option<String>,
}

/// What a profile update sets; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    /// Merged key by key into the stored object.
    pub custom_data: Option<serde_json::Map<String, serde_json::Value>>,
    /// Merged key by key into the stored object.
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Who an active participant is, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantName {
    pub account_id: AccountId,
    pub staff: bool,
    pub name: Option<String>,
    /// Staff only.
    pub avatar_url: Option<String>,
}

macro_rules! website_columns {
    () => {
        "website_id, workspace_id, public_key, name, settings, hmac_secret, agent_access, \
         created_at, updated_at"
    };
}

macro_rules! session_columns {
    () => {
        "session_id, website_id, account_id, started_at, last_seen_at, ended_at, \
     ip, country_code, country, region, city, geo_time_zone, browser, browser_version, os, \
     os_version, device_type, screen_width, screen_height, language, time_zone, referrer, \
     landing_page, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, \
     click_id_kind, click_id, page_views, current_url, current_title, current_page_at, \
     exit_intent_at"
    };
}

fn website(row: &AnyRow, agents: Vec<AccountId>) -> Result<WebsiteRecord, StoreError> {
    Ok(WebsiteRecord {
        id: WebsiteId(row.try_get("website_id")?),
        workspace_id: WorkspaceId(row.try_get("workspace_id")?),
        key: row.try_get("public_key")?,
        name: row.try_get("name")?,
        settings: row.try_get("settings")?,
        hmac_secret: row.try_get("hmac_secret")?,
        listed_agents_only: row.try_get::<String, _>("agent_access")? == "listed",
        agents,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn session(row: &AnyRow) -> Result<VisitorSession, StoreError> {
    Ok(VisitorSession {
        id: row.try_get("session_id")?,
        website_id: WebsiteId(row.try_get("website_id")?),
        account_id: AccountId(row.try_get("account_id")?),
        started_at: row.try_get("started_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        ended_at: row.try_get("ended_at")?,
        ip: row.try_get("ip")?,
        location: Location {
            country_code: row.try_get("country_code")?,
            country: row.try_get("country")?,
            region: row.try_get("region")?,
            city: row.try_get("city")?,
            time_zone: row.try_get("geo_time_zone")?,
        },
        device: Device {
            browser: row.try_get("browser")?,
            browser_version: row.try_get("browser_version")?,
            os: row.try_get("os")?,
            os_version: row.try_get("os_version")?,
            device_type: row.try_get("device_type")?,
        },
        traffic: Traffic {
            source: row.try_get("source")?,
            referrer: row.try_get("referrer")?,
            landing_page: row.try_get("landing_page")?,
            utm_source: row.try_get("utm_source")?,
            utm_medium: row.try_get("utm_medium")?,
            utm_campaign: row.try_get("utm_campaign")?,
            utm_term: row.try_get("utm_term")?,
            utm_content: row.try_get("utm_content")?,
            click_id_kind: row.try_get("click_id_kind")?,
            click_id: row.try_get("click_id")?,
        },
        screen_width: row.try_get("screen_width")?,
        screen_height: row.try_get("screen_height")?,
        language: row.try_get("language")?,
        time_zone: row.try_get("time_zone")?,
        page_views: row.try_get("page_views")?,
        current_url: row.try_get("current_url")?,
        current_title: row.try_get("current_title")?,
        current_page_at: row.try_get("current_page_at")?,
        exit_intent_at: row.try_get("exit_intent_at")?,
    })
}

fn json_object(
    text: Option<String>,
    column: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn merge(
    stored: Option<serde_json::Value>,
    update: Option<serde_json::Map<String, serde_json::Value>>,
) -> Option<serde_json::Value> {
    match (stored, update) {
        (stored, None) => stored,
        (Some(serde_json::Value::Object(mut old)), Some(new)) => {
            old.extend(new);
            Some(serde_json::Value::Object(old))
        }
        (_, Some(new)) => Some(serde_json::Value::Object(new)),
    }
}

impl Store {
    /// Creates a website with every agent allowed to serve it.
    pub async fn create_website(
        &self,
        workspace: WorkspaceId,
        key: &str,
        name: &str,
        settings: &str,
    ) -> Result<WebsiteRecord, StoreError> {
        let now = now_millis();
        let row = sqlx::query(concat!(
            "insert into website (workspace_id, public_key, name, settings, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $5)
             returning ",
            website_columns!()
        ))
        .bind(workspace.0)
        .bind(key)
        .bind(name)
        .bind(settings)
        .bind(now)
        .fetch_one(&self.write)
        .await?;
        website(&row, Vec::new())
    }

    async fn website_agents(&self, id: WebsiteId) -> Result<Vec<AccountId>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "select account_id from website_agent where website_id = $1 order by account_id",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        Ok(ids.into_iter().map(AccountId).collect())
    }

    async fn website_row(&self, row: Option<AnyRow>) -> Result<Option<WebsiteRecord>, StoreError> {
        match row {
            None => Ok(None),
            Some(row) => {
                let id = WebsiteId(row.try_get("website_id")?);
                let agents = self.website_agents(id).await?;
                Ok(Some(website(&row, agents)?))
            }
        }
    }

    /// A live website of `workspace`.
    pub async fn website(
        &self,
        workspace: WorkspaceId,
        id: WebsiteId,
    ) -> Result<WebsiteRecord, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            website_columns!(),
            " from website
             where website_id = $1 and workspace_id = $2 and deleted_at is null"
        ))
        .bind(id.0)
        .bind(workspace.0)
        .fetch_optional(&self.read)
        .await?;
        self.website_row(row)
            .await?
            .ok_or_else(|| not_found("website"))
    }

    /// A live website by its public key.
    pub async fn website_by_key(&self, key: &str) -> Result<Option<WebsiteRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            website_columns!(),
            " from website where public_key = $1 and deleted_at is null"
        ))
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        self.website_row(row).await
    }

    /// A live website by id, in whichever workspace (for tokens that name it).
    pub async fn website_by_id(&self, id: WebsiteId) -> Result<Option<WebsiteRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            website_columns!(),
            " from website where website_id = $1 and deleted_at is null"
        ))
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        self.website_row(row).await
    }

    /// Every live website; `workspace` narrows to one workspace.
    pub async fn websites(
        &self,
        workspace: Option<WorkspaceId>,
    ) -> Result<Vec<WebsiteRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "select ",
            website_columns!(),
            " from website
             where deleted_at is null and ($1 = 0 or workspace_id = $1)
             order by website_id"
        ))
        .bind(workspace.map_or(0, |w| w.0))
        .fetch_all(&self.read)
        .await?;
        let listed: Vec<(i64, i64)> = sqlx::query_as(
            "select wa.website_id, wa.account_id from website_agent wa
             join website w on w.website_id = wa.website_id
             where w.deleted_at is null and ($1 = 0 or w.workspace_id = $1)
             order by wa.website_id, wa.account_id",
        )
        .bind(workspace.map_or(0, |w| w.0))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("website_id")?;
                let agents = listed
                    .iter()
                    .filter(|(w, _)| *w == id)
                    .map(|(_, a)| AccountId(*a))
                    .collect();
                website(row, agents)
            })
            .collect()
    }

    /// Applies `update`; agents named in it must be staff of the workspace.
    pub async fn update_website(
        &self,
        workspace: WorkspaceId,
        id: WebsiteId,
        update: &WebsiteUpdate,
    ) -> Result<WebsiteRecord, StoreError> {
        let mut tx = self.begin().await?;
        let found: Option<i64> = sqlx::query_scalar(
            "select website_id from website
             where website_id = $1 and workspace_id = $2 and deleted_at is null",
        )
        .bind(id.0)
        .bind(workspace.0)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(not_found("website"));
        }
        sqlx::query(
            "update website set name = coalesce($1, name), settings = coalesce($2, settings),
                 updated_at = $3
             where website_id = $4",
        )
        .bind(update.name.as_deref())
        .bind(update.settings.as_deref())
        .bind(now_millis())
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if let Some((listed_only, agents)) = &update.access {
            for agent in agents {
                let staff: Option<i64> = sqlx::query_scalar(
                    "select account_id from account
                     where account_id = $1 and workspace_id = $2 and kind = 'staff'",
                )
                .bind(agent.0)
                .bind(workspace.0)
                .fetch_optional(&mut *tx)
                .await?;
                if staff.is_none() {
                    return Err(not_found("account"));
                }
            }
            sqlx::query("update website set agent_access = $1 where website_id = $2")
                .bind(if *listed_only { "listed" } else { "all" })
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query("delete from website_agent where website_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            for agent in agents {
                sqlx::query(
                    "insert into website_agent (website_id, account_id) values ($1, $2)
                     on conflict do nothing",
                )
                .bind(id.0)
                .bind(agent.0)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.website(workspace, id).await
    }

    /// Stores a new sealed `user_hash` secret.
    pub async fn set_website_hmac_secret(
        &self,
        workspace: WorkspaceId,
        id: WebsiteId,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "update website set hmac_secret = $1, updated_at = $2
             where website_id = $3 and workspace_id = $4 and deleted_at is null",
        )
        .bind(sealed.to_vec())
        .bind(now_millis())
        .bind(id.0)
        .bind(workspace.0)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(not_found("website"));
        }
        Ok(())
    }

    /// Retires a website: its key stops working; its conversations stay.
    pub async fn delete_website(
        &self,
        workspace: WorkspaceId,
        id: WebsiteId,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "update website set deleted_at = $1, updated_at = $1
             where website_id = $2 and workspace_id = $3 and deleted_at is null",
        )
        .bind(now_millis())
        .bind(id.0)
        .bind(workspace.0)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(not_found("website"));
        }
        Ok(())
    }

    // ----- contacts' profiles ----------------------------------------------------------

    /// A new anonymous contact who arrived through `website`.
    pub async fn create_visitor(
        &self,
        workspace: WorkspaceId,
        website: WebsiteId,
    ) -> Result<Account, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let row = sqlx::query(concat!(
            "insert into account (workspace_id, kind, identity, created_at, updated_at)
             values ($1, 'contact', 'anonymous', $2, $2)
             returning ",
            account_columns!()
        ))
        .bind(workspace.0)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let account = rows::account(&row)?;
        sqlx::query(
            "insert into contact_profile (account_id, website_id, updated_at) values ($1, $2, $3)",
        )
        .bind(account.id.0)
        .bind(website.0)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(account)
    }

    /// A contact's profile (empty when nothing beyond name and email is known).
    pub async fn contact_profile(&self, account: AccountId) -> Result<ContactProfile, StoreError> {
        let row = sqlx::query(
            "select website_id, phone, company, custom_data, fields
             from contact_profile where account_id = $1",
        )
        .bind(account.0)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else {
            return Ok(ContactProfile {
                account_id: account,
                website_id: None,
                phone: None,
                company: None,
                custom_data: None,
                fields: None,
            });
        };
        Ok(ContactProfile {
            account_id: account,
            website_id: row.try_get::<Option<i64>, _>("website_id")?.map(WebsiteId),
            phone: row.try_get("phone")?,
            company: row.try_get("company")?,
            custom_data: json_object(row.try_get("custom_data")?, "custom_data")?,
            fields: json_object(row.try_get("fields")?, "fields")?,
        })
    }

    /// Saves what a contact told us, as it comes (progressive profiling). Name and email
    /// go to the account, and its identity moves up: some details make an anonymous
    /// contact partly identified, a name and an email identify it. Never moves down.
    pub async fn update_contact_profile(
        &self,
        account: AccountId,
        website: Option<WebsiteId>,
        update: &ProfileUpdate,
    ) -> Result<(Account, ContactProfile), StoreError> {
        let now = now_millis();
        let current = self.contact_profile(account).await?;
        let custom_data =
            merge(current.custom_data, update.custom_data.clone()).map(|v| v.to_string());
        let fields = merge(current.fields, update.fields.clone()).map(|v| v.to_string());
        let mut tx = self.begin().await?;
        let row = sqlx::query(concat!(
            "update account set name = coalesce($1, name), email = coalesce($2, email),
                 updated_at = $3
             where account_id = $4 and kind = 'contact'
             returning ",
            account_columns!()
        ))
        .bind(update.name.as_deref())
        .bind(update.email.as_deref())
        .bind(now)
        .bind(account.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found("contact"))?;
        let mut contact = rows::account(&row)?;
        let told_something = update.phone.is_some()
            || update.company.is_some()
            || update.custom_data.is_some()
            || update.fields.is_some()
            || contact.name.is_some()
            || contact.email.is_some();
        let identity = match contact.identity {
            Some(IdentityState::Anonymous | IdentityState::Partial)
                if contact.name.is_some() && contact.email.is_some() =>
            {
                Some(IdentityState::Identified)
            }
            Some(IdentityState::Anonymous) if told_something => Some(IdentityState::Partial),
            other => other,
        };
        if identity != contact.identity
            && let Some(identity) = identity
        {
            sqlx::query("update account set identity = $1 where account_id = $2")
                .bind(identity.as_str())
                .bind(account.0)
                .execute(&mut *tx)
                .await?;
            contact.identity = Some(identity);
        }
        sqlx::query(
            "insert into contact_profile
                 (account_id, website_id, phone, company, custom_data, fields, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict (account_id) do update set
                 website_id = coalesce(contact_profile.website_id, excluded.website_id),
                 phone = coalesce(excluded.phone, contact_profile.phone),
                 company = coalesce(excluded.company, contact_profile.company),
                 custom_data = coalesce(excluded.custom_data, contact_profile.custom_data),
                 fields = coalesce(excluded.fields, contact_profile.fields),
                 updated_at = excluded.updated_at",
        )
        .bind(account.0)
        .bind(website.map(|w| w.0))
        .bind(update.phone.as_deref())
        .bind(update.company.as_deref())
        .bind(custom_data)
        .bind(fields)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.account_changed(account);
        let profile = self.contact_profile(account).await?;
        Ok((contact, profile))
    }

    // ----- visitor sessions ------------------------------------------------------------

    /// Starts a visit and records its first page view.
    pub async fn start_visitor_session(
        &self,
        new: &NewVisitorSession,
    ) -> Result<VisitorSession, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let row = sqlx::query(concat!(
            "insert into visitor_session
                 (website_id, account_id, started_at, last_seen_at, ip, country_code, country,
                  region, city, geo_time_zone, browser, browser_version, os, os_version,
                  device_type, user_agent, screen_width, screen_height, language, time_zone,
                  referrer, landing_page, source, utm_source, utm_medium, utm_campaign,
                  utm_term, utm_content, click_id_kind, click_id, page_views, current_url,
                  current_title, current_page_at)
             values ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31,
                     $32, $33)
             returning ",
            session_columns!()
        ))
        .bind(new.website_id.0)
        .bind(new.account_id.0)
        .bind(now)
        .bind(new.ip.as_deref())
        .bind(new.location.country_code.as_deref())
        .bind(new.location.country.as_deref())
        .bind(new.location.region.as_deref())
        .bind(new.location.city.as_deref())
        .bind(new.location.time_zone.as_deref())
        .bind(new.device.browser.as_deref())
        .bind(new.device.browser_version.as_deref())
        .bind(new.device.os.as_deref())
        .bind(new.device.os_version.as_deref())
        .bind(new.device.device_type.as_deref())
        .bind(new.user_agent.as_deref())
        .bind(new.screen_width)
        .bind(new.screen_height)
        .bind(new.language.as_deref())
        .bind(new.time_zone.as_deref())
        .bind(new.traffic.referrer.as_deref())
        .bind(new.traffic.landing_page.as_deref())
        .bind(new.traffic.source.as_str())
        .bind(new.traffic.utm_source.as_deref())
        .bind(new.traffic.utm_medium.as_deref())
        .bind(new.traffic.utm_campaign.as_deref())
        .bind(new.traffic.utm_term.as_deref())
        .bind(new.traffic.utm_content.as_deref())
        .bind(new.traffic.click_id_kind.as_deref())
        .bind(new.traffic.click_id.as_deref())
        .bind(i64::from(new.page_url.is_some()))
        .bind(new.page_url.as_deref())
        .bind(new.page_title.as_deref())
        .bind(new.page_url.as_ref().map(|_| now))
        .fetch_one(&mut *tx)
        .await?;
        let started = session(&row)?;
        if let Some(url) = &new.page_url {
            sqlx::query(
                "insert into page_view (session_id, url, title, referrer, started_at)
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(started.id)
            .bind(url.as_str())
            .bind(new.page_title.as_deref())
            .bind(new.traffic.referrer.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(started)
    }

    /// A session of `account` on `website` (the caller's token names both).
    pub async fn visitor_session(
        &self,
        website: WebsiteId,
        account: AccountId,
        id: i64,
    ) -> Result<VisitorSession, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            session_columns!(),
            " from visitor_session
             where session_id = $1 and website_id = $2 and account_id = $3"
        ))
        .bind(id)
        .bind(website.0)
        .bind(account.0)
        .fetch_optional(&self.read)
        .await?
        .ok_or_else(|| not_found("session"))?;
        session(&row)
    }

    /// The newest session of `account` on `website`, if it was seen after `since`.
    pub async fn recent_visitor_session(
        &self,
        website: WebsiteId,
        account: AccountId,
        since: Millis,
    ) -> Result<Option<VisitorSession>, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            session_columns!(),
            " from visitor_session
             where account_id = $1 and website_id = $2 and last_seen_at > $3
               and ended_at is null
             order by started_at desc limit 1"
        ))
        .bind(account.0)
        .bind(website.0)
        .bind(since)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(session).transpose()
    }

    /// Records a page view: closes the previous one's time on page and moves the session's
    /// current page. Returns the updated session.
    pub async fn record_page_view(
        &self,
        session_id: i64,
        url: &str,
        title: Option<&str>,
        referrer: Option<&str>,
        max_per_session: i64,
    ) -> Result<VisitorSession, StoreError> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let views: Option<i64> =
            sqlx::query_scalar("select page_views from visitor_session where session_id = $1")
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await?;
        let views = views.ok_or_else(|| not_found("session"))?;
        sqlx::query(
            "update page_view set duration_ms = $1 - started_at
             where session_id = $2 and duration_ms is null",
        )
        .bind(now)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
        // Past the cap the session still follows the visitor; the trail stops growing.
        if views < max_per_session {
            sqlx::query(
                "insert into page_view (session_id, url, title, referrer, started_at)
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(session_id)
            .bind(url)
            .bind(title)
            .bind(referrer)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let row = sqlx::query(concat!(
            "update visitor_session set page_views = page_views + 1, current_url = $1,
                 current_title = $2, current_page_at = $3, last_seen_at = $3, ended_at = null
             where session_id = $4
             returning ",
            session_columns!()
        ))
        .bind(url)
        .bind(title)
        .bind(now)
        .bind(session_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        session(&row)
    }

    /// Marks the session as seen now; `exit_intent` records the signal, `ended` that the
    /// visitor left (page hidden for good).
    pub async fn touch_visitor_session(
        &self,
        session_id: i64,
        exit_intent: bool,
        ended: bool,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        sqlx::query(
            "update visitor_session set last_seen_at = $1,
                 exit_intent_at = case when $2 = 1 then $1 else exit_intent_at end,
                 ended_at = case when $3 = 1 then $1 else null end
             where session_id = $4",
        )
        .bind(now)
        .bind(i64::from(exit_intent))
        .bind(i64::from(ended))
        .bind(session_id)
        .execute(&self.write)
        .await?;
        if ended {
            sqlx::query(
                "update page_view set duration_ms = $1 - started_at
                 where session_id = $2 and duration_ms is null",
            )
            .bind(now)
            .bind(session_id)
            .execute(&self.write)
            .await?;
        }
        Ok(())
    }

    /// Stores a `track()` event.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_visitor_event(
        &self,
        session: &VisitorSession,
        name: &str,
        properties: Option<&str>,
        value: Option<f64>,
        currency: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into visitor_event
                 (session_id, website_id, account_id, name, properties, value, currency,
                  created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(session.id)
        .bind(session.website_id.0)
        .bind(session.account_id.0)
        .bind(name)
        .bind(properties)
        .bind(value)
        .bind(currency)
        .bind(now_millis())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// A session's tracked events, oldest first: (name, properties, value, currency, at).
    #[allow(clippy::type_complexity)]
    pub async fn visitor_events(
        &self,
        account: AccountId,
        limit: u32,
    ) -> Result<
        Vec<(
            String,
            Option<serde_json::Value>,
            Option<f64>,
            Option<String>,
            Millis,
        )>,
        StoreError,
    > {
        let rows = sqlx::query(
            "select name, properties, value, currency, created_at from visitor_event
             where account_id = $1 order by created_at desc, visitor_event_id desc limit $2",
        )
        .bind(account.0)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("name")?,
                    json_object(row.try_get("properties")?, "properties")?,
                    row.try_get("value")?,
                    row.try_get("currency")?,
                    row.try_get("created_at")?,
                ))
            })
            .collect()
    }

    /// Visitors of `website` seen since `since`, most recently active first, with the
    /// contact and whether they had visited before.
    pub async fn live_visitors(
        &self,
        website: WebsiteId,
        since: Millis,
        limit: u32,
    ) -> Result<Vec<(VisitorSession, Account, bool)>, StoreError> {
        let rows = sqlx::query(concat!(
            "select ",
            session_columns!(),
            ",
                 exists (select 1 from visitor_session e
                         where e.account_id = visitor_session.account_id
                           and e.website_id = visitor_session.website_id
                           and e.started_at < visitor_session.started_at) as returning_visitor
             from visitor_session
             where website_id = $1 and last_seen_at > $2 and ended_at is null
             order by last_seen_at desc limit $3"
        ))
        .bind(website.0)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let visit = session(row)?;
            // `exists` is a boolean on PostgreSQL and an integer on SQLite.
            let returning = row
                .try_get::<bool, _>("returning_visitor")
                .or_else(|_| row.try_get::<i64, _>("returning_visitor").map(|v| v != 0))?;
            if let Some(account) = self.account(visit.account_id).await? {
                out.push((visit, account, returning));
            }
        }
        Ok(out)
    }

    /// A contact's sessions, newest first.
    pub async fn visitor_sessions(
        &self,
        account: AccountId,
        limit: u32,
    ) -> Result<Vec<VisitorSession>, StoreError> {
        let rows = sqlx::query(concat!(
            "select ",
            session_columns!(),
            " from visitor_session
             where account_id = $1 order by started_at desc limit $2"
        ))
        .bind(account.0)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(session).collect()
    }

    /// A session's navigation path, oldest first.
    pub async fn page_views(
        &self,
        session_id: i64,
        limit: u32,
    ) -> Result<Vec<PageView>, StoreError> {
        let rows = sqlx::query(
            "select url, title, referrer, started_at, duration_ms from page_view
             where session_id = $1 order by page_view_id limit $2",
        )
        .bind(session_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PageView {
                    url: row.try_get("url")?,
                    title: row.try_get("title")?,
                    referrer: row.try_get("referrer")?,
                    started_at: row.try_get("started_at")?,
                    duration_ms: row.try_get("duration_ms")?,
                })
            })
            .collect()
    }

    /// The newest open conversation `account` takes part in on `website`.
    pub async fn latest_open_conversation(
        &self,
        account: AccountId,
        website: WebsiteId,
    ) -> Result<Option<natter_core::ConversationId>, StoreError> {
        let id: Option<i64> = sqlx::query_scalar(
            "select c.conversation_id from participant p
             join conversation c on c.conversation_id = p.conversation_id
             where p.account_id = $1 and p.left_at is null and c.website_id = $2
               and c.status in ('open', 'pending')
             order by c.last_activity_at desc, c.conversation_id desc limit 1",
        )
        .bind(account.0)
        .bind(website.0)
        .fetch_optional(&self.read)
        .await?;
        Ok(id.map(natter_core::ConversationId))
    }
}

impl Store {
    /// The active staff of a workspace, by id.
    pub async fn staff(&self, workspace: WorkspaceId) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(concat!(
            "select ",
            account_columns!(),
            " from account
             where workspace_id = $1 and kind = 'staff' and deactivated_at is null
             order by account_id"
        ))
        .bind(workspace.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(rows::account).collect()
    }
}

impl Store {
    /// Whether `account` visited `website` before `session` began (a returning visitor).
    pub async fn visited_before(&self, session: &VisitorSession) -> Result<bool, StoreError> {
        let earlier: Option<i64> = sqlx::query_scalar(
            "select session_id from visitor_session
             where account_id = $1 and website_id = $2 and started_at < $3 limit 1",
        )
        .bind(session.account_id.0)
        .bind(session.website_id.0)
        .bind(session.started_at)
        .fetch_optional(&self.read)
        .await?;
        Ok(earlier.is_some())
    }
}

impl Store {
    /// The active participants' display names: (account, is staff, name).
    pub async fn participant_names(
        &self,
        conversation: natter_core::ConversationId,
    ) -> Result<Vec<ParticipantName>, StoreError> {
        let rows = sqlx::query(
            "select a.account_id, a.kind, a.name, a.avatar_url from participant p
             join account a on a.account_id = p.account_id
             where p.conversation_id = $1 and p.left_at is null
             order by a.account_id",
        )
        .bind(conversation.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let staff = row.try_get::<String, _>("kind")? == "staff";
                Ok(ParticipantName {
                    account_id: AccountId(row.try_get("account_id")?),
                    staff,
                    name: row.try_get("name")?,
                    avatar_url: if staff {
                        row.try_get("avatar_url")?
                    } else {
                        None
                    },
                })
            })
            .collect()
    }
}
