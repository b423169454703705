//! The EC2 adapter against a moto server: inventory, isolation, snapshots, tags, protection.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use soar_aws::sdk::{self, AccountConfigs};
use soar_core::alert::{Resource, ResourceKind};
use soar_core::ports::Inventory;
use soar_ec2::Ec2;
use soar_local::lab;
use soar_tests::Moto;
use std::sync::Arc;

#[tokio::test]
async fn inventory_isolation_snapshots_tags_and_protection() {
    let moto = Moto::start();
    let config = sdk::local(&moto.endpoint()).await.unwrap();
    let client = aws_sdk_ec2::Client::new(&config);
    let web = lab::create_instance(
        &config,
        "web-1",
        &[("owner", "web-platform"), ("environment", "production")],
    )
    .await
    .unwrap();
    let ec2 = Ec2::new(Arc::new(AccountConfigs::new(
        config.clone(),
        None,
        soar_aws::sdk::session::REMEDIATE,
    )));

    // Inventory: the instance as the enrich phase sees it (own account: empty account and region).
    let resource = Resource {
        kind: ResourceKind::Instance,
        id: web.instance_id.clone(),
        ..Resource::unknown()
    };
    let record = ec2.describe(&resource).await.unwrap().expect("instance found");
    assert_eq!(record.owner.as_deref(), Some("web-platform"));
    assert_eq!(record.environment.as_deref(), Some("production"));
    assert_eq!(record.attributes["vpc_id"], json!(web.vpc_id));
    assert_eq!(record.attributes["security_groups"], json!([web.security_group_id]));
    let missing = Resource {
        id: "i-00000000000000000".into(),
        ..resource.clone()
    };
    assert_eq!(ec2.describe(&missing).await.unwrap(), None);

    // Isolation: untracking first, then quarantine; originals kept for rollback.
    let detail = ec2.isolate("", "", &web.instance_id, "alert-1").await.unwrap();
    let quarantine = detail["quarantine_group"].as_str().unwrap().to_string();
    assert_eq!(
        detail["original_groups"][&web.network_interface_id],
        json!([web.security_group_id])
    );
    let groups = lab::eni_groups(&config, &web.network_interface_id).await.unwrap();
    assert_eq!(
        groups.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        vec![quarantine.clone()]
    );
    assert!(groups[0].1.starts_with("soar-quarantine-"));
    let rules = client
        .describe_security_groups()
        .group_ids(&quarantine)
        .send()
        .await
        .unwrap();
    let group = &rules.security_groups()[0];
    assert!(
        group.ip_permissions().is_empty() && group.ip_permissions_egress().is_empty(),
        "quarantine has no rules"
    );
    let untracking = detail["untracking_group"].as_str().unwrap();
    let rules = client
        .describe_security_groups()
        .group_ids(untracking)
        .send()
        .await
        .unwrap();
    assert!(
        !rules.security_groups()[0].ip_permissions().is_empty(),
        "untracking allows all"
    );

    // A second isolation (another alert) reuses the groups.
    let again = ec2.isolate("", "", &web.instance_id, "alert-2").await.unwrap();
    assert_eq!(again["quarantine_group"], json!(quarantine));

    let snaps = ec2
        .snapshot("", "", &web.instance_id, ("alert-1", "alert-1"), None)
        .await
        .unwrap();
    assert!(!snaps["snapshots"].as_array().unwrap().is_empty());
    let tagged = lab::snapshots_for(&config, "alert-1").await.unwrap();
    assert_eq!(tagged.len(), snaps["snapshots"].as_array().unwrap().len());

    let tags: soar_core::action::Tags = serde_json::from_value(json!({"soar:incident": "alert-1"})).unwrap();
    ec2.tag("", "", &web.instance_id, &tags).await.unwrap();
    let record = ec2.describe(&resource).await.unwrap().unwrap();
    assert_eq!(record.tags["soar:incident"], "alert-1");

    let protected = ec2.protect("", "", &web.instance_id).await.unwrap();
    assert_eq!(protected["termination_protection"], true);
    let attr = client
        .describe_instance_attribute()
        .instance_id(&web.instance_id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .unwrap();
    assert_eq!(attr.disable_api_termination().and_then(|v| v.value()), Some(true));

    assert!(
        ec2.isolate("", "", "i-00000000000000000", "x")
            .await
            .unwrap_err()
            .to_string()
            .contains("not found")
    );
}

/// `ec2.detach_instance_profile`: the instance's profile association is removed, the profile's
/// ARN recorded for rollback, and an instance without one is left alone.
#[tokio::test]
async fn the_instance_profile_is_detached_with_its_rollback_data() {
    let moto = Moto::start();
    let config = sdk::local(&moto.endpoint()).await.unwrap();
    let client = aws_sdk_ec2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let app = lab::create_instance(&config, "app-1", &[]).await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("app-role")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let profile = iam
        .create_instance_profile()
        .instance_profile_name("app")
        .send()
        .await
        .unwrap()
        .instance_profile()
        .unwrap()
        .arn()
        .to_string();
    iam.add_role_to_instance_profile()
        .instance_profile_name("app")
        .role_name("app-role")
        .send()
        .await
        .unwrap();
    client
        .associate_iam_instance_profile()
        .instance_id(&app.instance_id)
        .iam_instance_profile(
            aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                .arn(&profile)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ec2 = Ec2::new(Arc::new(AccountConfigs::new(
        config.clone(),
        None,
        soar_aws::sdk::session::REMEDIATE,
    )));

    let done = ec2.detach_instance_profile("", "", &app.instance_id).await.unwrap();
    assert_eq!(done["detached"][0]["instance_profile_arn"], json!(profile), "{done}");
    assert!(
        done["detached"][0]["rollback"].as_str().unwrap().contains(&profile),
        "{done}"
    );
    let left = client
        .describe_iam_instance_profile_associations()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("instance-id")
                .values(&app.instance_id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let associated = left
        .iam_instance_profile_associations()
        .iter()
        .filter(|a| a.state() == Some(&aws_sdk_ec2::types::IamInstanceProfileAssociationState::Associated))
        .count();
    assert_eq!(associated, 0, "{left:?}");
    // Again: nothing left to detach, nothing fails.
    let again = ec2.detach_instance_profile("", "", &app.instance_id).await.unwrap();
    assert_eq!(again["detached"], json!([]), "{again}");
}
