//! What went wrong in an AWS call, as the kinds a caller must tell apart: the resource is not
//! there, the id is not even an id, AWS is throttling, the role may not do it, a conditional
//! write lost, or anything else. Read from the error code of the service's answer (the AWS API
//! references' "Common Errors" and each operation's errors), never from its text.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::fmt::Debug;

/// One failed AWS call. `operation` is the API name (`DescribeInstances`); `message` is AWS's
/// own text, for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// `*.NotFound`, `ResourceNotFoundException`, `NoSuchEntity`, `NonExistentQueue`.
    #[error("{operation}: not found ({code}: {message})")]
    NotFound {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// `*.Malformed`, `InvalidParameterValue`, `ValidationError`: the request named something
    /// that cannot exist. Never read as "not found" (which a caller may read as "not protected").
    #[error("{operation}: invalid id or parameter ({code}: {message})")]
    InvalidId {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// `RequestLimitExceeded`, `Throttling*`, `ProvisionedThroughputExceededException`, ...:
    /// try again later.
    #[error("{operation}: throttled by AWS ({code}: {message})")]
    Throttled {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// `UnauthorizedOperation`, `AccessDenied*`, `AuthFailure`: the role lacks a permission.
    #[error("{operation}: access denied ({code}: {message})")]
    AccessDenied {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// `*.Duplicate`, `ResourceInUseException`, `*AlreadyExists*`: what was to be created is
    /// there already (another invocation made it a moment ago).
    #[error("{operation}: already exists ({code}: {message})")]
    AlreadyExists {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// `ConditionalCheckFailedException`: a conditional write found the item not as expected.
    #[error("{operation}: condition not met ({message})")]
    ConditionFailed { operation: &'static str, message: String },
    /// Any other error AWS answered with.
    #[error("{operation}: {code}: {message}")]
    Service {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// No answer from AWS (connection, timeout, credentials, a response that could not be read).
    #[error("{operation}: {message}")]
    Unreachable { operation: &'static str, message: String },
}

impl AwsError {
    /// Classifies an SDK error of `operation`.
    pub fn from_sdk<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: Debug,
    {
        Self::of(operation, &error)
    }

    /// [`AwsError::from_sdk`] for an error the caller keeps.
    pub fn of<E, R>(operation: &'static str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: Debug,
    {
        match error.as_service_error() {
            Some(service) => classify(
                operation,
                service.code().unwrap_or("Unknown"),
                service.message().unwrap_or_default(),
            ),
            None => AwsError::Unreachable {
                operation,
                message: aws_smithy_types::error::display::DisplayErrorContext(error).to_string(),
            },
        }
    }
}

impl AwsError {
    /// For the APIs whose `LimitExceededException` is their request rate (Security Hub's and
    /// GuardDuty's finding APIs, which create nothing): that error as [`AwsError::Throttled`].
    /// Elsewhere the code can mean a quota a retry never lifts, so [`classify`] leaves it alone.
    pub fn rate_limited(self) -> AwsError {
        match self {
            AwsError::Service {
                operation,
                code,
                message,
            } if code == "LimitExceededException" => AwsError::Throttled {
                operation,
                code,
                message,
            },
            other => other,
        }
    }

    /// Whether the same call may succeed later: throttling, a server-side error (the AWS API
    /// references' common errors `InternalError`, `InternalFailure`, `ServiceUnavailable`), or no
    /// answer at all. What the caller sent or may do does not change by waiting.
    pub fn is_transient(&self) -> bool {
        match self {
            AwsError::Throttled { .. } | AwsError::Unreachable { .. } => true,
            AwsError::Service { code, .. } => matches!(
                code.as_str(),
                "InternalError"
                    | "InternalFailure"
                    | "InternalServerError"
                    | "InternalServiceError"
                    | "InternalServerException"
                    // GuardDuty's HTTP 500.
                    | "InternalServerErrorException"
                    // Security Hub: another update of the same finding at the same moment.
                    | "ConcurrentUpdateError"
                    | "ServiceUnavailable"
                    | "ServiceUnavailableException"
                    | "Unavailable"
                    | "RequestTimeout"
                    | "RequestTimeoutException"
                    // IAM's HTTP 500 and its lost race with a concurrent change.
                    | "ServiceFailure"
                    | "ConcurrentModification"
                    | "ConcurrentModificationException"
                    // EC2: too many snapshots of one volume in flight.
                    | "SnapshotCreationPerVolumeRateExceeded"
            ),
            _ => false,
        }
    }
}

const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// The kind of an error `code` (with AWS's `message`) of `operation`.
pub fn classify(operation: &'static str, code: &str, message: &str) -> AwsError {
    let (code, message) = (code.to_string(), message.to_string());
    let c = code.as_str();
    if c == CONDITION_FAILED {
        return AwsError::ConditionFailed { operation, message };
    }
    if c.ends_with(".NotFound")
        || matches!(
            c,
            "ResourceNotFoundException"
                | "NoSuchEntity"
                | "NoSuchBucket"
                | "NoSuchPublicAccessBlockConfiguration"
                | "AWS.SimpleQueueService.NonExistentQueue"
                | "QueueDoesNotExist"
        )
    {
        AwsError::NotFound {
            operation,
            code,
            message,
        }
    } else if c.ends_with(".Malformed")
        || matches!(
            c,
            "InvalidParameterValue" | "InvalidID" | "ValidationError" | "ValidationException"
        )
    {
        AwsError::InvalidId {
            operation,
            code,
            message,
        }
    } else if c.starts_with("Throttl")
        || matches!(
            c,
            "RequestLimitExceeded"
                | "RequestThrottled"
                | "ProvisionedThroughputExceededException"
                | "TooManyRequestsException"
                | "SlowDown"
        )
    {
        AwsError::Throttled {
            operation,
            code,
            message,
        }
    } else if c.ends_with(".Duplicate") || c.contains("AlreadyExists") || c == "ResourceInUseException" {
        AwsError::AlreadyExists {
            operation,
            code,
            message,
        }
    } else if c.starts_with("AccessDenied") || matches!(c, "UnauthorizedOperation" | "AuthFailure") {
        AwsError::AccessDenied {
            operation,
            code,
            message,
        }
    } else {
        AwsError::Service {
            operation,
            code,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_the_kinds_callers_branch_on() {
        let kind = |code: &str| match classify("Op", code, "m") {
            AwsError::NotFound { .. } => "not found",
            AwsError::InvalidId { .. } => "invalid id",
            AwsError::Throttled { .. } => "throttled",
            AwsError::AccessDenied { .. } => "access denied",
            AwsError::ConditionFailed { .. } => "condition failed",
            AwsError::AlreadyExists { .. } => "already exists",
            AwsError::Service { .. } => "other",
            AwsError::Unreachable { .. } => "unreachable",
        };
        let table = [
            ("InvalidInstanceID.NotFound", "not found"),
            ("InvalidGroup.NotFound", "not found"),
            ("ResourceNotFoundException", "not found"),
            ("InvalidInstanceID.Malformed", "invalid id"),
            ("InvalidParameterValue", "invalid id"),
            ("RequestLimitExceeded", "throttled"),
            ("ThrottlingException", "throttled"),
            ("ProvisionedThroughputExceededException", "throttled"),
            ("UnauthorizedOperation", "access denied"),
            ("AccessDeniedException", "access denied"),
            ("AuthFailure", "access denied"),
            ("ConditionalCheckFailedException", "condition failed"),
            ("InvalidGroup.Duplicate", "already exists"),
            ("InvalidPermission.Duplicate", "already exists"),
            ("ResourceInUseException", "already exists"),
            ("InvalidPermission.NotFound", "not found"),
            ("InternalError", "other"),
        ];
        for (code, expected) in table {
            assert_eq!(kind(code), expected, "{code}");
        }
        let e = classify(
            "DescribeInstances",
            "InvalidInstanceID.Malformed",
            "Invalid id: \"i-x\"",
        );
        assert!(e.to_string().starts_with("DescribeInstances: invalid id"), "{e}");
        assert!(e.to_string().contains("InvalidInstanceID.Malformed"), "{e}");
    }
}
