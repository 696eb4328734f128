//! `triage-relay serve`'s SMTP flags, and turning them into an
//! [`SmtpConfig`] (the password is read from its file here, once).

use super::{SmtpConfig, SmtpSecurity};
use std::path::PathBuf;
use triage_shared::notify::check_email;

/// Longest password file read.
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct SmtpArgs {
    /// SMTP server for notification mail; without it no mail is sent
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port (default: 587 for starttls, 465 for tls, 25 for none)
    #[arg(long, value_name = "PORT", requires = "smtp_host")]
    pub smtp_port: Option<u16>,
    /// starttls, tls or none (none only for a local relay or tests)
    #[arg(long, value_name = "MODE", default_value = "starttls", value_parser = parse_security)]
    pub smtp_security: SmtpSecurity,
    /// User name to log in to the SMTP server
    #[arg(long, value_name = "USER", requires_all = ["smtp_host", "smtp_password_file"])]
    pub smtp_user: Option<String>,
    /// File holding the SMTP password (kept out of the process list)
    #[arg(long, value_name = "FILE", requires = "smtp_user")]
    pub smtp_password_file: Option<PathBuf>,
    /// From address of notification mail
    #[arg(long, value_name = "ADDRESS", requires = "smtp_host")]
    pub smtp_from: Option<String>,
}

fn parse_security(s: &str) -> Result<SmtpSecurity, String> {
    s.parse()
}

impl SmtpArgs {
    /// `None` without `--smtp-host`; refused with what to fix otherwise.
    pub fn to_config(&self) -> Result<Option<SmtpConfig>, String> {
        let Some(host) = &self.smtp_host else {
            return Ok(None);
        };
        let from = self
            .smtp_from
            .clone()
            .ok_or("--smtp-host needs --smtp-from ADDRESS, the sender of notification mail")?;
        check_email(&from).map_err(|e| format!("--smtp-from: {e}"))?;
        let credentials = match (&self.smtp_user, &self.smtp_password_file) {
            (Some(user), Some(file)) => {
                let password = std::fs::read_to_string(file).map_err(|e| {
                    format!("cannot read --smtp-password-file {}: {e}", file.display())
                })?;
                let password = password.trim_end_matches(['\r', '\n']).to_string();
                if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
                    return Err(format!(
                        "--smtp-password-file {} must hold a password of 1 to {MAX_PASSWORD_LEN} bytes",
                        file.display()
                    ));
                }
                Some((user.clone(), password))
            }
            _ => None,
        };
        Ok(Some(SmtpConfig {
            host: host.clone(),
            port: self
                .smtp_port
                .unwrap_or_else(|| self.smtp_security.default_port()),
            security: self.smtp_security,
            credentials,
            from,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_flags_need_a_from_address_and_read_the_password_file() {
        assert!(SmtpArgs::default().to_config().unwrap().is_none());
        let mut args = SmtpArgs {
            smtp_host: Some("mail.example.com".into()),
            smtp_security: SmtpSecurity::Tls,
            ..SmtpArgs::default()
        };
        assert!(args.to_config().unwrap_err().contains("--smtp-from"));
        args.smtp_from = Some("triage@example.com".into());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        args.smtp_user = Some("relay".into());
        args.smtp_password_file = Some(file);
        let config = args.to_config().unwrap().unwrap();
        assert_eq!(config.port, 465);
        assert_eq!(config.credentials, Some(("relay".into(), "s3cret".into())));
    }
}
