//! Protection read live before acting, for every kind soar acts on: the remediate phase's
//! `Inventory`. Instances through soar-ec2 (DescribeInstances); buckets (GetBucketTagging),
//! functions (GetFunction) and ECS tasks (ListTagsForResource) by their tags. A kind without tags
//! to read, or a resource the service says does not exist, answers `None` (its protection is what
//! the finding says); any other failure is an error, which the guard rail reads as protected.

use crate::{AwsRemediator, RespondError, s3_client};
use async_trait::async_trait;
use soar_aws::AwsError;
use soar_core::alert::{Resource, ResourceKind};
use soar_core::ports::{Inventory, InventoryRecord, ProviderError};
use std::collections::BTreeMap;

/// The tags of one resource as the inventory port carries them.
fn record(tags: BTreeMap<String, String>) -> Option<InventoryRecord> {
    Some(InventoryRecord {
        tags,
        ..InventoryRecord::default()
    })
}

impl AwsRemediator {
    async fn bucket_tags(&self, r: &Resource) -> Result<Option<InventoryRecord>, RespondError> {
        let config = self.config_for(&r.account, &r.region).await?;
        match s3_client(&config).get_bucket_tagging().bucket(&r.id).send().await {
            Ok(out) => Ok(record(
                out.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            )),
            Err(e) => match AwsError::from_sdk("GetBucketTagging", e) {
                // A bucket without tags: nothing marks it protected.
                AwsError::Service { code, .. } if code == "NoSuchTagSet" => Ok(record(BTreeMap::new())),
                other => Err(other.into()),
            },
        }
    }

    async fn function_tags(&self, r: &Resource) -> Result<Option<InventoryRecord>, RespondError> {
        let config = self.config_for(&r.account, &r.region).await?;
        let out = aws_sdk_lambda::Client::new(&config)
            .get_function()
            .function_name(&r.id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetFunction", e))?;
        Ok(record(out.tags().cloned().unwrap_or_default().into_iter().collect()))
    }

    async fn task_tags(&self, r: &Resource) -> Result<Option<InventoryRecord>, RespondError> {
        let config = self.config_for(&r.account, &r.region).await?;
        let out = aws_sdk_ecs::Client::new(&config)
            .list_tags_for_resource()
            .resource_arn(&r.id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListTagsForResource", e))?;
        Ok(record(
            out.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect(),
        ))
    }
}

#[async_trait]
impl Inventory for AwsRemediator {
    async fn describe(&self, resource: &Resource) -> Result<Option<InventoryRecord>, ProviderError> {
        let answer = match resource.kind {
            ResourceKind::Instance => return self.ec2.describe(resource).await,
            ResourceKind::S3Bucket => self.bucket_tags(resource).await,
            ResourceKind::Lambda => self.function_tags(resource).await,
            ResourceKind::EcsTask => self.task_tags(resource).await,
            _ => Ok(None),
        };
        match answer {
            // The service says there is no such resource (NoSuchBucket, ResourceNotFoundException):
            // nothing to protect, as for an instance EC2 does not know; the action itself fails.
            Err(RespondError::Aws(AwsError::NotFound { .. })) => Ok(None),
            other => other.map_err(|e| ProviderError::new("tags", e.to_string()).transient(e.is_transient())),
        }
    }
}
