//! `GET .../Conversations/{code}` (our extension): one conversation with its messages.

use actix_web::{web, HttpResponse};

use super::create::ConversationContent;
use crate::{error::ApiError, extract::GuestCall, state::AppState};

pub async fn get(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let result = async {
        let conversation = state.conversations.get(&call.session, &code).await?;
        Ok::<_, ApiError>(ConversationContent {
            conversation: conversation.into(),
        })
    }
    .await;
    call.finish("getConversationResponse", result)
}
