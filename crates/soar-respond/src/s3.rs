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

/// PutPublicAccessBlock with all four settings on. Rollback data: the configuration it replaced.
pub(crate) async fn block_public_access(client: &Client, bucket: &str) -> Result<Value, RespondError> {
    let previous = current(client, bucket).await?;
    let all = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
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
