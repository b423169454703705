//! Secrets for local runs: from environment variables. (The functions read AWS Secrets Manager:
//! `soar_aws::secrets`.)

use async_trait::async_trait;
use soar_core::ports::{Secret, SecretError, SecretSource};

/// Secret `soar/virustotal` is the variable `SOAR_SECRET_SOAR_VIRUSTOTAL`: `SOAR_SECRET_` and the
/// name upper-cased, every other character than A-Z and 0-9 an underscore.
pub struct EnvSecrets;

impl EnvSecrets {
    pub fn variable(name: &str) -> String {
        let suffix: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("SOAR_SECRET_{suffix}")
    }
}

#[async_trait]
impl SecretSource for EnvSecrets {
    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        let variable = Self::variable(name);
        match std::env::var(&variable) {
            Ok(value) if !value.is_empty() => Ok(Secret::from(value)),
            _ => Err(SecretError {
                name: name.into(),
                message: format!("set {variable} (local runs read secrets from the environment)"),
            }),
        }
    }
}
