//! `POST .../Conversations/{code}/Close` (our extension).

use actix_web::{web, HttpResponse};

use crate::{error::ApiError, extract::GuestCall, state::AppState};

pub async fn close(
    state: web::Data<AppState>,
    code: web::Path<String>,
    call: GuestCall,
) -> Result<HttpResponse, ApiError> {
    let result = async {
        state.conversations.close(&call.session, &code).await?;
        Ok::<_, ApiError>(())
    }
    .await;
    call.acknowledge(result)
}
