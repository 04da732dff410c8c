//! `POST .../Conversations/{code}/Messages` (our extension): the guest adds a message.

use actix_web::{web, HttpResponse};
use bellhop_application::conversations::AddGuestMessage;
use serde::Serialize;

use crate::{dto::MessageDto, error::ApiError, extract::GuestCall, state::AppState};

#[derive(Serialize)]
struct MessageContent {
    message: MessageDto,
}

pub async fn reply(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let result = async {
        let request = AddGuestMessage {
            message: call.fields.text("message")?,
            conversation_type: call.fields.text("conversationType")?,
        };
        let message = state
            .conversations
            .add_message(&call.session, &code, request)
            .await?;
        Ok::<_, ApiError>(MessageContent {
            message: message.into(),
        })
    }
    .await;
    call.finish("addMessageResponse", result)
}
