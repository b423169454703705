//! Named secrets from AWS Secrets Manager (the `SecretString`), each read once per cold start.

use async_trait::async_trait;
use soar_core::ports::{Secret, SecretError, SecretSource};
use std::collections::HashMap;
use tokio::sync::Mutex;

pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
    cache: Mutex<HashMap<String, Secret>>,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        SecretsManager {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl SecretSource for SecretsManager {
    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        let mut cache = self.cache.lock().await;
        if let Some(secret) = cache.get(name) {
            return Ok(secret.clone());
        }
        let failed = |message: String| SecretError {
            name: name.into(),
            message,
        };
        let out = self
            .client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| {
                failed(format!(
                    "Secrets Manager {}",
                    crate::AwsError::from_sdk("GetSecretValue", e)
                ))
            })?;
        let value = out
            .secret_string()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| failed("the secret has no string value".into()))?;
        let secret = Secret::from(value);
        cache.insert(name.to_string(), secret.clone());
        Ok(secret)
    }
}
