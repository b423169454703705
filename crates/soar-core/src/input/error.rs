//! What can be wrong with an input, naming the field.

/// One alert is at most this large; GuardDuty findings are a few KiB and SQS caps a message at 1 MiB.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    #[error("input is {size} bytes; one alert may be at most {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("input is not valid JSON: {0}")]
    NotJson(String),
    #[error("input is not an alert: {0}")]
    WrongShape(String),
    #[error("field `{field}` is missing: {hint}")]
    Missing { field: String, hint: String },
    #[error("field `{field}` is invalid: {hint}")]
    Invalid { field: String, hint: String },
}

impl InputError {
    pub fn missing(field: impl Into<String>, hint: impl Into<String>) -> Self {
        InputError::Missing {
            field: field.into(),
            hint: hint.into(),
        }
    }
    pub fn invalid(field: impl Into<String>, hint: impl Into<String>) -> Self {
        InputError::Invalid {
            field: field.into(),
            hint: hint.into(),
        }
    }

    /// Prefixes the field with where it sits (`Records[2].body.detail`).
    pub(super) fn within(self, prefix: &str) -> Self {
        match self {
            InputError::Missing { field, hint } => InputError::Missing {
                field: format!("{prefix}.{field}"),
                hint,
            },
            InputError::Invalid { field, hint } => InputError::Invalid {
                field: format!("{prefix}.{field}"),
                hint,
            },
            other => other,
        }
    }
}
