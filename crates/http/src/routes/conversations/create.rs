//! `POST .../Conversations` (the seed endpoint) and `POST .../NonVerifiedGuestConversations`.

use actix_web::{web, HttpResponse};
use bellhop_application::conversations::{CreateConversation, CreateVisitorConversation};
use serde::Serialize;

use crate::{dto::ConversationDto, error::ApiError, extract::GuestCall, state::AppState};

#[derive(Serialize)]
pub struct ConversationContent {
    pub conversation: ConversationDto,
}

pub async fn create(state: web::Data<AppState>, call: GuestCall) -> Result<HttpResponse, ApiError> {
    let result = async {
        let f = &call.fields;
        let request = CreateConversation {
            message: f.text("message")?,
            conversation_type: f.text("conversationType")?,
            outlet_code: f.text("outletCode")?,
            order_code: f.text("orderCode")?,
        };
        let conversation = state.conversations.create(&call.session, request).await?;
        Ok::<_, ApiError>(ConversationContent {
            conversation: conversation.into(),
        })
    }
    .await;
    call.finish("createConversationResponse", result)
}

pub async fn create_for_visitor(
    state: web::Data<AppState>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let result = async {
        let f = &call.fields;
        let request = CreateVisitorConversation {
            message: f.text("message")?,
            conversation_type: f.text("conversationType")?,
            outlet_code: f.text("outletCode")?,
            order_code: f.text("orderCode")?,
            order_form_details: f.object("orderFormDetailsDictionary")?,
        };
        let conversation = state
            .conversations
            .create_for_visitor(&call.session, request)
            .await?;
        Ok::<_, ApiError>(ConversationContent {
            conversation: conversation.into(),
        })
    }
    .await;
    call.finish("createConversationResponse", result)
}
