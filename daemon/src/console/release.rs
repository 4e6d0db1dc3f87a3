//! `POST /licence/{key}/release` (support and admin): releases one computer's seat with the
//! ReleaseLicenseHttp command and its rules (release limits, the prevent-deactivation
//! period, the verification code when `releaseLicenseRequiresVerificationCode` is on), as
//! `licd release` does. The release log counts it; the history always gets its line, naming
//! the staff user and their address, whatever `historyTableLogRelease` says: a console
//! action is always accountable.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;

use super::{Visit, actions, key_of};
use crate::methods::release_license::{ReleaseInput, release_command};
use crate::web::form::Form;

/// `POST /licence/{key}/release`.
pub async fn submit(visit: &Visit, key_text: &str, form: &Form) -> Response<Full<Bytes>> {
    let key = match key_of(visit, key_text) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let Some(computer) = form.get("computer_id").filter(|c| !c.is_empty()) else {
        return visit.refused(
            StatusCode::BAD_REQUEST,
            "Which computer?",
            "The form named no computer to release.",
        );
    };
    let mut command = release_command(
        &visit.config,
        &key,
        ReleaseInput {
            computer_id: Some(computer.to_string()),
            code: form
                .get("code")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            log_release: true,
            vendor: Some(visit.history_name()),
            client: super::client_text(visit.staff.client),
            now: visit.now,
        },
        Box::new(|_| Ok(())),
    );
    command.log_history = true;
    let outcome = actions::run(visit, command).await;
    match outcome {
        Ok(released) => {
            tracing::info!(
                console_user = %visit.staff.name,
                client = %visit.staff.client,
                key = %crate::methods::masked(&key),
                computer = %crate::logging::untrusted(&released.activation.computer_id),
                "console: seat released"
            );
            actions::done(&key, "released")
        }
        Err(e) => actions::refused(visit, Some(&key), "Releasing the seat", &e),
    }
}
