//! Where an alert's finding lives in its source, so that soar's verdict can be written back
//! there: its Security Hub identity (`Id` and `ProductArn`, the pair `BatchUpdateFindings` takes)
//! and, for a GuardDuty finding, its detector. Read once by the parsers from the finding itself;
//! an alert from another tool, or a finding whose identifiers contradict each other, has none,
//! and no write-back can aim at it.

use serde::{Deserialize, Serialize};

/// The finding an alert came from, as the write-back actions address it (their target is
/// `{"kind": "Finding", "id": <id>}`). Policies see it as `input.alert.finding`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRef {
    /// Security Hub's `Id` of the finding. For a GuardDuty finding this is its ARN
    /// (`arn:<partition>:guardduty:<region>:<account>:detector/<detector>/finding/<id>`), both in
    /// Security Hub and in GuardDuty's own event (GuardDuty User Guide, "Integrating with AWS
    /// Security Hub": the ASFF `Id` is the finding ARN).
    pub id: String,
    /// ASFF `ProductArn`: the integration that imported it; for a GuardDuty event,
    /// `arn:<partition>:securityhub:<region>::product/aws/guardduty`.
    pub product_arn: String,
    /// Whether the finding arrived through Security Hub (so it exists there). A GuardDuty event
    /// that came straight from GuardDuty exists in Security Hub only when its GuardDuty
    /// integration is on: the policy's configuration says so.
    pub via_security_hub: bool,
    /// The GuardDuty detector that produced it (from the finding ARN), for GuardDuty findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_id: Option<String>,
    /// ASFF `Workflow.Status` as delivered (`NEW`, `NOTIFIED`, `RESOLVED`, `SUPPRESSED`); `None`
    /// when it did not come through Security Hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_status: Option<String>,
    /// ASFF `VerificationState` as delivered (`UNKNOWN`, `TRUE_POSITIVE`, `FALSE_POSITIVE`,
    /// `BENIGN_POSITIVE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_state: Option<String>,
}

/// Who soar says it is when it writes to a finding (Security Hub's `Note.UpdatedBy`).
pub const UPDATED_BY: &str = "soar";

/// The parts of a GuardDuty finding ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardDutyArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub detector_id: &'a str,
    pub finding_id: &'a str,
}

impl GuardDutyArn<'_> {
    /// Whether it names the finding `finding_id` of `account` in `region`.
    fn names(&self, (account, region, finding_id): (&str, &str, &str)) -> bool {
        self.account == account && self.region == region && self.finding_id == finding_id
    }
}

/// Reads `arn:<partition>:guardduty:<region>:<account>:detector/<detector>/finding/<id>`;
/// `None` for anything else (an empty part, another service, extra path segments).
pub fn guardduty_arn(arn: &str) -> Option<GuardDutyArn<'_>> {
    let mut parts = arn.strip_prefix("arn:")?.splitn(5, ':');
    let (partition, service, region, account, path) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let (detector_id, finding_id) = path.strip_prefix("detector/")?.split_once("/finding/")?;
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let ok = partition.starts_with("aws")
        && service == "guardduty"
        && token(region)
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && token(detector_id)
        && token(finding_id);
    ok.then_some(GuardDutyArn {
        partition,
        region,
        account,
        detector_id,
        finding_id,
    })
}

/// Security Hub's product ARN for GuardDuty in `region`.
pub fn guardduty_product_arn(partition: &str, region: &str) -> String {
    format!("arn:{partition}:securityhub:{region}::product/aws/guardduty")
}

impl FindingRef {
    /// A GuardDuty event's finding: its `arn`, which must name the finding's own account,
    /// region and id (an ARN that contradicts them addresses some other finding: none).
    pub fn of_guardduty(arn: Option<&str>, account: &str, region: &str, finding_id: &str) -> Option<FindingRef> {
        let arn = arn?;
        let parsed = guardduty_arn(arn).filter(|p| p.names((account, region, finding_id)))?;
        Some(FindingRef {
            id: arn.to_string(),
            product_arn: guardduty_product_arn(parsed.partition, region),
            via_security_hub: false,
            detector_id: Some(parsed.detector_id.to_string()),
            workflow_status: None,
            verification_state: None,
        })
    }

    /// An ASFF finding delivered by Security Hub. `guardduty`: its product ARN is GuardDuty's;
    /// then its `Id` must be the finding ARN of the alert's account, region and finding id.
    pub fn of_asff(
        (id, product_arn): (&str, Option<&str>),
        (account, region, finding_id): (&str, &str, &str),
        guardduty: bool,
        (workflow_status, verification_state): (Option<String>, Option<String>),
    ) -> Option<FindingRef> {
        let product_arn = product_arn.filter(|p| !p.trim().is_empty())?;
        let detector_id = if guardduty {
            let parsed = guardduty_arn(id).filter(|p| p.names((account, region, finding_id)))?;
            Some(parsed.detector_id.to_string())
        } else {
            None
        };
        Some(FindingRef {
            id: id.to_string(),
            product_arn: product_arn.to_string(),
            via_security_hub: true,
            detector_id,
            workflow_status,
            verification_state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:guardduty:eu-west-1:111122223333:detector/d1/finding/f1";

    #[test]
    fn a_guardduty_arn_is_read_part_by_part() {
        let parsed = guardduty_arn(ARN).unwrap();
        assert_eq!(
            (parsed.region, parsed.account, parsed.detector_id, parsed.finding_id),
            ("eu-west-1", "111122223333", "d1", "f1")
        );
        for bad in [
            "arn:aws:guardduty:eu-west-1:111122223333:detector/d1/finding/",
            "arn:aws:guardduty:eu-west-1:1111:detector/d1/finding/f1",
            "arn:aws:inspector2:eu-west-1:111122223333:detector/d1/finding/f1",
            "arn:aws:guardduty:eu-west-1:111122223333:detector/d1/finding/f1/x",
            "arn:aws:guardduty::111122223333:detector/d1/finding/f1",
            "arn:evil:guardduty:eu-west-1:111122223333:detector/d1/finding/f1",
            "guardduty:eu-west-1:111122223333:detector/d1/finding/f1",
        ] {
            assert_eq!(guardduty_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_arn_that_contradicts_its_finding_addresses_nothing() {
        let ok = FindingRef::of_guardduty(Some(ARN), "111122223333", "eu-west-1", "f1").unwrap();
        assert_eq!(ok.product_arn, "arn:aws:securityhub:eu-west-1::product/aws/guardduty");
        assert_eq!(ok.detector_id.as_deref(), Some("d1"));
        assert!(!ok.via_security_hub);
        assert_eq!(
            FindingRef::of_guardduty(Some(ARN), "999999999999", "eu-west-1", "f1"),
            None
        );
        assert_eq!(
            FindingRef::of_guardduty(Some(ARN), "111122223333", "us-east-1", "f1"),
            None
        );
        assert_eq!(
            FindingRef::of_guardduty(Some(ARN), "111122223333", "eu-west-1", "f2"),
            None
        );
        assert_eq!(FindingRef::of_guardduty(None, "111122223333", "eu-west-1", "f1"), None);
    }

    #[test]
    fn an_asff_finding_needs_its_product_and_a_guardduty_one_its_arn() {
        let place = ("111122223333", "eu-west-1", "f1");
        let states = (Some("NEW".to_string()), None);
        let other = FindingRef::of_asff(
            (
                "inspector-1",
                Some("arn:aws:securityhub:eu-west-1::product/aws/inspector"),
            ),
            place,
            false,
            states.clone(),
        )
        .unwrap();
        assert!(other.via_security_hub && other.detector_id.is_none());
        assert_eq!(other.workflow_status.as_deref(), Some("NEW"));
        assert_eq!(FindingRef::of_asff(("x", None), place, false, states.clone()), None);
        let gd = Some("arn:aws:securityhub:eu-west-1::product/aws/guardduty");
        assert!(FindingRef::of_asff((ARN, gd), place, true, states.clone()).is_some());
        assert_eq!(FindingRef::of_asff(("f1", gd), place, true, states), None);
    }
}
