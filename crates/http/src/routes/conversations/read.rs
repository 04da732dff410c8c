//! `POST .../Conversations/{code}/Read` (our extension): the guest's read position.

use actix_web::{web, HttpResponse};

use crate::{error::ApiError, extract::GuestCall, state::AppState};

pub async fn read(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let result = async {
        let message_code = call.fields.text("messageCode")?;
        state
            .conversations
            .mark_read(&call.session, &code, message_code)
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    call.acknowledge(result)
}
