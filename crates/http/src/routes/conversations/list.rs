//! `GET .../Conversations` (our extension): the guest's conversations with unread counts.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::{
    dto::ConversationSummaryDto, error::ApiError, extract::GuestCall, routes::messages::page,
    state::AppState,
};

#[derive(Serialize)]
struct ConversationsContent {
    conversations: Vec<ConversationSummaryDto>,
}

pub async fn list(state: web::Data<AppState>, call: GuestCall) -> Result<HttpResponse, ApiError> {
    let result = async {
        bellhop_application::conversations::guest_viewer(&call.session)?;
        let page = page(&call.fields, state.limits.max_page_length)?;
        let conversations = state.conversations.list(&call.session, page).await?;
        Ok::<_, ApiError>(ConversationsContent {
            conversations: conversations.into_iter().map(Into::into).collect(),
        })
    }
    .await;
    call.finish("getConversationsResponse", result)
}
