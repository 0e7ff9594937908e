//! Outgoing email, for now a development mailbox: each message is written as an RFC 5322
//! file to `<data_dir>/mail/` and logged, so sign-up, reset and invitation flows work end to
//! end without an SMTP server. The notifications work replaces this with SMTP delivery from
//! the job table; callers do not change.

use std::path::PathBuf;

use natter_core::Error;
use natter_core::time::now_millis;

pub struct Mailbox {
    dir: PathBuf,
}

impl Mailbox {
    pub fn new(data_dir: &str) -> Self {
        Self {
            dir: PathBuf::from(data_dir).join("mail"),
        }
    }

    /// Writes one plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), Error> {
        let id = crate::auth::random_token(6);
        let message = format!(
            "To: {to}\r\nFrom: natter <no-reply@natter.invalid>\r\nSubject: {subject}\r\n\
             Message-ID: <{id}@natter.invalid>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        );
        let path = self.dir.join(format!("{}-{id}.eml", now_millis()));
        let write = async {
            tokio::fs::create_dir_all(&self.dir).await?;
            tokio::fs::write(&path, message).await
        };
        write.await.map_err(|e| {
            tracing::error!(error = %e, path = %path.display(), "cannot write mail");
            Error::internal()
        })?;
        tracing::info!(%to, %subject, path = %path.display(), "mail written to the development mailbox");
        Ok(())
    }
}
