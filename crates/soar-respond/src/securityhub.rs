//! `securityhub.update_finding`: soar's verdict on the finding in Security Hub
//! (BatchUpdateFindings: Workflow.Status, VerificationState and a Note).

use crate::RespondError;
use aws_sdk_securityhub::Client;
use aws_sdk_securityhub::types::{
    AwsSecurityFindingIdentifier, NoteUpdate, VerificationState, WorkflowStatus, WorkflowUpdate,
};
use serde_json::{Value, json};
use soar_aws::{AwsError, classify};
use soar_core::action::Summary;
use soar_core::finding::{FindingRef, UPDATED_BY};
use soar_core::rollback::Undo;

/// Security Hub's status and verification state of a finding it imported and nobody changed
/// (ASFF: `Workflow.Status` `NEW`, `VerificationState` `UNKNOWN`).
const NEW: &str = "NEW";
const UNKNOWN: &str = "UNKNOWN";

/// Sets the finding's workflow status to `status` with `summary`'s verification state and note.
/// `(account, region)`: where the finding is (its own account, whose Security Hub holds it).
/// Rollback data: the status and verification state it was delivered with.
pub(crate) async fn update_finding(
    client: &Client,
    finding: &FindingRef,
    (status, summary): (&str, &Summary),
    (account, region): (&str, &str),
) -> Result<Value, RespondError> {
    batch_update(
        client,
        (&finding.id, &finding.product_arn),
        (status, summary.verification_state),
        &summary.text,
    )
    .await?;
    let undo = Undo::RestoreFindingWorkflow {
        account: account.to_string(),
        region: region.to_string(),
        id: finding.id.clone(),
        product_arn: finding.product_arn.clone(),
        workflow_status: finding.workflow_status.clone().unwrap_or_else(|| NEW.into()),
        // Put back only what soar changed.
        verification_state: summary
            .verification_state
            .map(|_| finding.verification_state.clone().unwrap_or_else(|| UNKNOWN.into())),
    };
    Ok(json!({
        "id": finding.id,
        "product_arn": finding.product_arn,
        "workflow_status": status,
        "verification_state": summary.verification_state,
        "note": summary.text,
        "undo": undo.data(),
    }))
}

/// The rollback: the status and verification state put back, with a note saying why.
pub(crate) async fn restore_workflow(
    client: &Client,
    (id, product_arn): (&str, &str),
    (status, verification): (&str, Option<&str>),
) -> Result<Value, RespondError> {
    let restored = match verification {
        Some(v) => format!("workflow status {status} and verification state {v} restored"),
        None => format!("workflow status {status} restored"),
    };
    batch_update(
        client,
        (id, product_arn),
        (status, verification),
        &format!("soar rollback: {restored}"),
    )
    .await?;
    Ok(json!({"id": id, "workflow_status": status, "verification_state": verification}))
}

/// One BatchUpdateFindings for one finding. A finding Security Hub lists as unprocessed (not
/// there, no access, a concurrent update) is an error with its code, as if the call had failed.
async fn batch_update(
    client: &Client,
    (id, product_arn): (&str, &str),
    (status, verification): (&str, Option<&str>),
    note: &str,
) -> Result<(), RespondError> {
    const OPERATION: &str = "BatchUpdateFindings";
    let identifier = AwsSecurityFindingIdentifier::builder()
        .id(id)
        .product_arn(product_arn)
        .build();
    let mut request = client
        .batch_update_findings()
        .finding_identifiers(identifier)
        .workflow(WorkflowUpdate::builder().status(WorkflowStatus::from(status)).build())
        .note(NoteUpdate::builder().text(note).updated_by(UPDATED_BY).build());
    if let Some(state) = verification {
        request = request.verification_state(VerificationState::from(state));
    }
    let out = request
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(OPERATION, e).rate_limited())?;
    match out.unprocessed_findings().first() {
        None => Ok(()),
        Some(unprocessed) => Err(RespondError::Aws(
            classify(
                OPERATION,
                unprocessed.error_code().unwrap_or("Unprocessed"),
                &format!(
                    "finding {id} not updated: {}",
                    unprocessed.error_message().unwrap_or("no reason given")
                ),
            )
            .rate_limited(),
        )),
    }
}
