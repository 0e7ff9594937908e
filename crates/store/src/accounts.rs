//! Workspaces, staff and contact accounts, API tokens.

use natter_core::ids::{AccountId, WorkspaceId};
use natter_core::model::{Account, IdentityState, StaffRole};
use natter_core::time::now_millis;
use natter_core::{Error, ErrorCode};
use sqlx::Row;

use crate::error::domain;
use crate::rows::{self, a_account_columns, account_columns};
use crate::{Store, StoreError};

/// A staff account to create.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub name: Option<String>,
    pub role: StaffRole,
}

/// A contact to create, or to update when `external_id` is already known.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub workspace_id: WorkspaceId,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The identity was proven (HMAC, JWT, or vouched for by the host platform's backend).
    pub verified: bool,
}

impl NewContact {
    /// What the details say about who the contact is: an id from the host platform
    /// identifies them; a name or email alone only partly does.
    fn identity(&self) -> IdentityState {
        if self.verified && self.external_id.is_some() {
            IdentityState::Verified
        } else if self.external_id.is_some() {
            IdentityState::Identified
        } else if self.name.is_some() || self.email.is_some() {
            IdentityState::Partial
        } else {
            IdentityState::Anonymous
        }
    }
}

/// How long a token's `last_used_at` may lag, so that authenticating is not a write on every
/// request.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

impl Store {
    pub async fn create_workspace(&self, name: &str) -> Result<WorkspaceId, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "insert into workspace (name, created_at, updated_at) values ($1, $2, $2)
             returning workspace_id",
        )
        .bind(name)
        .bind(now_millis())
        .fetch_one(&self.write)
        .await?;
        Ok(WorkspaceId(id))
    }

    pub async fn workspace_exists(&self, id: WorkspaceId) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("select workspace_id from workspace where workspace_id = $1")
                .bind(id.0)
                .fetch_optional(&self.read)
                .await?;
        Ok(found.is_some())
    }

    /// Every workspace id, oldest first (for the command line).
    pub async fn workspace_ids(&self) -> Result<Vec<WorkspaceId>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar("select workspace_id from workspace order by 1")
            .fetch_all(&self.read)
            .await?;
        Ok(ids.into_iter().map(WorkspaceId).collect())
    }

    pub async fn count_workspaces(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("select count(*) from workspace")
            .fetch_one(&self.read)
            .await?)
    }

    /// Creates a staff account; an email already used in the workspace is a conflict.
    pub async fn create_staff(&self, new: &NewStaff) -> Result<Account, StoreError> {
        let now = now_millis();
        let result = sqlx::query(concat!(
            "insert into account (workspace_id, kind, role, email, name, created_at, updated_at)
             values ($1, 'staff', $2, $3, $4, $5, $5)
             returning ",
            account_columns!()
        ))
        .bind(new.workspace_id.0)
        .bind(new.role.as_str())
        .bind(new.email.as_str())
        .bind(new.name.as_deref())
        .bind(now)
        .fetch_one(&self.write)
        .await
        .map_err(StoreError::from);
        match result {
            Ok(row) => rows::account(&row),
            Err(e) if e.violates("account_staff_email_key") => Err(domain(
                ErrorCode::Conflict,
                "a staff account with this email already exists",
            )),
            Err(e) => Err(e),
        }
    }

    /// Creates a contact, or, when `external_id` names an existing one, fills in the details
    /// given (details not given are kept). Identity only moves up: a verified upsert makes the
    /// contact verified; an unverified one never downgrades it (callers refuse unverified
    /// claims on verified contacts before they get here).
    pub async fn upsert_contact(&self, new: &NewContact) -> Result<Account, StoreError> {
        let now = now_millis();
        let row = sqlx::query(concat!(
            "insert into account
                 (workspace_id, kind, identity, external_id, name, email, created_at, updated_at)
             values ($1, 'contact', $2, $3, $4, $5, $6, $6)
             on conflict (workspace_id, external_id) where external_id is not null
             do update set name = coalesce(excluded.name, account.name),
                           email = coalesce(excluded.email, account.email),
                           identity = case
                               when excluded.identity = 'verified' then 'verified'
                               when account.identity in ('anonymous', 'partial')
                                   then excluded.identity
                               else account.identity
                           end,
                           updated_at = excluded.updated_at
             returning ",
            account_columns!()
        ))
        .bind(new.workspace_id.0)
        .bind(new.identity().as_str())
        .bind(new.external_id.as_deref())
        .bind(new.name.as_deref())
        .bind(new.email.as_deref())
        .bind(now)
        .fetch_one(&self.write)
        .await?;
        let account = rows::account(&row)?;
        // An upsert may have changed an existing contact's details.
        self.account_changed(account.id);
        Ok(account)
    }

    /// Gives an anonymous or partly known contact (no host-platform id yet) the identity in
    /// `new`, keeping its conversations. `None` when the contact already has an id, or
    /// another contact has this one (the caller then upserts that contact instead).
    pub async fn claim_external_id(
        &self,
        account: AccountId,
        new: &NewContact,
    ) -> Result<Option<Account>, StoreError> {
        if let Some(external_id) = &new.external_id
            && self
                .contact_by_external_id(new.workspace_id, external_id)
                .await?
                .is_some()
        {
            return Ok(None);
        }
        let row = sqlx::query(concat!(
            "update account set external_id = $1, name = coalesce($2, name),
                 email = coalesce($3, email), identity = $4, updated_at = $5
             where account_id = $6 and workspace_id = $7 and kind = 'contact'
               and external_id is null
             returning ",
            account_columns!()
        ))
        .bind(new.external_id.as_deref())
        .bind(new.name.as_deref())
        .bind(new.email.as_deref())
        .bind(new.identity().as_str())
        .bind(now_millis())
        .bind(account.0)
        .bind(new.workspace_id.0)
        .fetch_optional(&self.write)
        .await;
        if row.is_ok() {
            self.account_changed(account);
        }
        match row {
            Ok(row) => row.as_ref().map(rows::account).transpose(),
            // Another request claimed the id in between: the unique index says so.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The contact with this host-platform id, if any.
    pub async fn contact_by_external_id(
        &self,
        workspace: WorkspaceId,
        external_id: &str,
    ) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            account_columns!(),
            " from account where workspace_id = $1 and external_id = $2 and kind = 'contact'"
        ))
        .bind(workspace.0)
        .bind(external_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(rows::account).transpose()
    }

    /// An active account by id.
    pub async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            account_columns!(),
            " from account
             where account_id = $1 and deactivated_at is null"
        ))
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(rows::account).transpose()
    }

    /// An active account in `workspace` (anything else is "not found", so ids from other
    /// workspaces reveal nothing).
    pub async fn account_in(
        &self,
        workspace: WorkspaceId,
        id: AccountId,
    ) -> Result<Account, StoreError> {
        match self.account(id).await? {
            Some(account) if account.workspace_id == workspace => Ok(account),
            _ => Err(StoreError::Domain(Error::not_found("account"))),
        }
    }

    pub async fn set_name(&self, id: AccountId, name: &str) -> Result<(), StoreError> {
        sqlx::query("update account set name = $1, updated_at = $2 where account_id = $3")
            .bind(name)
            .bind(now_millis())
            .bind(id.0)
            .execute(&self.write)
            .await?;
        self.account_changed(id);
        Ok(())
    }

    /// A staff member's own display details: `name` when given; `avatar_url` when given
    /// (`Some(None)` removes the photo). Returns the account as it is now.
    pub async fn update_staff_profile(
        &self,
        id: AccountId,
        name: Option<&str>,
        avatar_url: Option<Option<&str>>,
    ) -> Result<Account, StoreError> {
        let row = sqlx::query(concat!(
            "update account set name = coalesce($1, name),
                 avatar_url = case when $2 = 1 then $3 else avatar_url end, updated_at = $4
             where account_id = $5 and kind = 'staff'
             returning ",
            account_columns!()
        ))
        .bind(name)
        .bind(i64::from(avatar_url.is_some()))
        .bind(avatar_url.flatten())
        .bind(now_millis())
        .bind(id.0)
        .fetch_optional(&self.write)
        .await?
        .ok_or_else(|| StoreError::Domain(Error::not_found("account")))?;
        self.account_changed(id);
        rows::account(&row)
    }

    /// Active staff accounts with this email, in any workspace (for the command line).
    pub async fn staff_by_email(&self, email: &str) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(concat!(
            "select ",
            account_columns!(),
            " from account where kind = 'staff' and email = $1 and deactivated_at is null
             order by workspace_id"
        ))
        .bind(email)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(rows::account).collect()
    }

    /// Stores a new API token (only its hash) for a staff account; returns its id.
    /// `scopes` is a space-separated subset of `read write admin`.
    pub async fn create_api_token(
        &self,
        account: AccountId,
        name: &str,
        token_hash: &[u8],
        scopes: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "insert into api_token (account_id, token_hash, name, scopes, created_at)
             values ($1, $2, $3, $4, $5) returning api_token_id",
        )
        .bind(account.0)
        .bind(token_hash.to_vec())
        .bind(name)
        .bind(scopes)
        .bind(now_millis())
        .fetch_one(&self.write)
        .await?)
    }

    /// The active staff account owning the unrevoked token with this hash, and the token's
    /// scopes (space-separated).
    pub async fn account_by_token_hash(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(Account, String)>, StoreError> {
        let row = sqlx::query(concat!(
            "select t.api_token_id, t.last_used_at, t.scopes, ",
            a_account_columns!(),
            "
             from api_token t join account a on a.account_id = t.account_id
             where t.token_hash = $1 and t.revoked_at is null and a.deactivated_at is null"
        ))
        .bind(token_hash.to_vec())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let now = now_millis();
        let last_used: Option<i64> = row.try_get("last_used_at")?;
        if last_used.is_none_or(|t| now - t > LAST_USED_GRANULARITY_MS) {
            let token_id: i64 = row.try_get("api_token_id")?;
            sqlx::query("update api_token set last_used_at = $1 where api_token_id = $2")
                .bind(now)
                .bind(token_id)
                .execute(&self.write)
                .await?;
        }
        Ok(Some((rows::account(&row)?, row.try_get("scopes")?)))
    }
}
