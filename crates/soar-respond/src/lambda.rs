//! `lambda.throttle`: reserved concurrency 0, so that no invocation of the function runs.

use crate::RespondError;
use aws_sdk_lambda::Client;
use serde_json::{Value, json};
use soar_aws::AwsError;
use soar_core::rollback::Undo;

/// The function's reserved concurrency; `None` when none is reserved (GetFunctionConcurrency
/// answers without a value).
async fn reserved(client: &Client, function: &str) -> Result<Option<i32>, RespondError> {
    Ok(client
        .get_function_concurrency()
        .function_name(function)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetFunctionConcurrency", e))?
        .reserved_concurrent_executions())
}

/// PutFunctionConcurrency with 0. Rollback data: the reserved concurrency it replaced, if any.
pub(crate) async fn throttle(client: &Client, function: &str) -> Result<Value, RespondError> {
    let previous = reserved(client, function).await?;
    client
        .put_function_concurrency()
        .function_name(function)
        .reserved_concurrent_executions(0)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutFunctionConcurrency", e))?;
    let undo = Undo::RestoreConcurrency {
        function_name: function.to_string(),
        previous,
    };
    Ok(json!({
        "function_name": function,
        "reserved_concurrent_executions": 0,
        "previous": previous,
        "undo": undo.data(),
    }))
}

/// The rollback: the previous reserved concurrency put back, or the reservation deleted.
pub(crate) async fn restore_concurrency(
    client: &Client,
    function: &str,
    previous: Option<i32>,
) -> Result<Value, RespondError> {
    // Only while it is still the 0 soar set: a person who changed it since decided.
    let now = reserved(client, function).await?;
    if now != Some(0) {
        return Err(RespondError::Refused(format!(
            "the reserved concurrency of {function} changed since soar set it to 0 (now {now:?}): not rolled back, check it by hand"
        )));
    }
    match previous {
        Some(n) => {
            client
                .put_function_concurrency()
                .function_name(function)
                .reserved_concurrent_executions(n)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("PutFunctionConcurrency", e))?;
        }
        None => {
            client
                .delete_function_concurrency()
                .function_name(function)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DeleteFunctionConcurrency", e))?;
        }
    }
    Ok(json!({"function_name": function, "reserved_concurrent_executions": previous}))
}
