//! `s3.block_public_access`: the bucket's own Block Public Access settings.

use crate::RespondError;
use aws_sdk_s3::Client;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use serde_json::{Value, json};
use soar_aws::AwsError;
use soar_core::rollback::{PublicAccessBlock, Undo};

fn configuration(block: PublicAccessBlock) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(block.block_public_acls)
        .ignore_public_acls(block.ignore_public_acls)
        .block_public_policy(block.block_public_policy)
        .restrict_public_buckets(block.restrict_public_buckets)
        .build()
}

/// The bucket's configuration now; `None` when it has none (`NoSuchPublicAccessBlockConfiguration`).
async fn current(client: &Client, bucket: &str) -> Result<Option<PublicAccessBlock>, RespondError> {
    match client.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => Ok(out.public_access_block_configuration().map(|c| PublicAccessBlock {
            block_public_acls: c.block_public_acls().unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
            block_public_policy: c.block_public_policy().unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
        })),
        Err(e) => match AwsError::from_sdk("GetPublicAccessBlock", e) {
            AwsError::NotFound { code, .. } if code == "NoSuchPublicAccessBlockConfiguration" => Ok(None),
            other => Err(other.into()),
        },
    }
}

/// What `s3.block_public_access` sets: every setting on.
const ALL: PublicAccessBlock = PublicAccessBlock {
    block_public_acls: true,
    ignore_public_acls: true,
    block_public_policy: true,
    restrict_public_buckets: true,
};

/// PutPublicAccessBlock with all four settings on. Rollback data: the configuration it replaced.
pub(crate) async fn block_public_access(client: &Client, bucket: &str) -> Result<Value, RespondError> {
    let previous = current(client, bucket).await?;
    let all = ALL;
    client
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(configuration(all))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutPublicAccessBlock", e))?;
    let undo = Undo::RestorePublicAccessBlock {
        bucket: bucket.to_string(),
        previous,
    };
    Ok(json!({
        "bucket": bucket,
        "public_access_block": all,
        "previous": previous,
        "undo": undo.data(),
    }))
}

/// The rollback: the previous configuration put back, or the bucket's own block deleted.
pub(crate) async fn restore_public_access_block(
    client: &Client,
    bucket: &str,
    previous: Option<PublicAccessBlock>,
) -> Result<Value, RespondError> {
    // Only while the bucket still has what soar set: a person who changed it since decided.
    if current(client, bucket).await? != Some(ALL) {
        return Err(RespondError::Refused(format!(
            "the public access block of {bucket} changed since soar set it: not rolled back, check it by hand"
        )));
    }
    match previous {
        Some(block) => {
            client
                .put_public_access_block()
                .bucket(bucket)
                .public_access_block_configuration(configuration(block))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("PutPublicAccessBlock", e))?;
        }
        None => {
            client
                .delete_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DeletePublicAccessBlock", e))?;
        }
    }
    Ok(json!({"bucket": bucket, "public_access_block": previous}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_s3::operation::get_public_access_block::GetPublicAccessBlockError;
    use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
    use aws_smithy_types::error::ErrorMetadata;

    /// A real S3 client whose calls get the rules' canned answers (aws-smithy-mocks).
    fn client(rules: &[&Rule]) -> Client {
        let interceptor = rules.iter().fold(
            MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
            |i, rule| i.with_rule(rule),
        );
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        Client::from_conf(config)
    }

    fn get_fails(code: &'static str) -> Rule {
        mock!(Client::get_public_access_block).then_error(move || {
            GetPublicAccessBlockError::generic(ErrorMetadata::builder().code(code).message("from the mock").build())
        })
    }

    /// Only S3's "this bucket has no configuration" means "nothing to restore"; a missing bucket
    /// or a missing permission stops the action before anything is changed.
    #[tokio::test]
    async fn only_a_missing_configuration_means_none_before() {
        let put = mock!(Client::put_public_access_block).then_output(|| {
            aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput::builder().build()
        });
        let done = block_public_access(
            &client(&[&get_fails("NoSuchPublicAccessBlockConfiguration"), &put]),
            "b",
        )
        .await
        .unwrap();
        assert_eq!(
            done["undo"],
            json!({"kind": "restore_public_access_block", "bucket": "b", "previous": null})
        );
        assert_eq!(put.num_calls(), 1);
        for code in ["NoSuchBucket", "AccessDenied"] {
            let put = mock!(Client::put_public_access_block).then_output(|| {
                aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput::builder().build()
            });
            let err = block_public_access(&client(&[&get_fails(code), &put]), "b")
                .await
                .unwrap_err();
            assert!(err.to_string().contains(code), "{err}");
            assert_eq!(put.num_calls(), 0, "{code}: nothing changed");
        }
    }
}
