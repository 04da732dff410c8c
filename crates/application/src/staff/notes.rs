//! Staff add an internal note to a conversation.

use bellhop_domain::{
    conversation::Viewer,
    idempotency::{Created, IdempotentRequest},
    message::MessageContent,
    note::{NewNote, Note},
    ports::Written,
    staff::StaffKey,
};
use tracing::instrument;

use super::StaffService;
use crate::{codes::new_code, error::AppResult};

impl StaffService {
    /// A note on a conversation of the key (open or closed), signed with the key's code and
    /// display name; its text follows the rules of a message.
    #[instrument(skip_all)]
    pub async fn add_note(
        &self,
        key: &StaffKey,
        code: &str,
        content: Option<&str>,
        idempotency: Option<IdempotentRequest>,
    ) -> AppResult<Created<Written<Note>>> {
        let content = MessageContent::parse(content)?;
        let note = NewNote::by_staff(new_code(), key, content, self.clock.now());
        Ok(self
            .workflow
            .add_note(&Viewer::Staff(key.scope.clone()), code, note, idempotency)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{key, with_workflow};
    use bellhop_domain::{
        idempotency::Created,
        ports::{MockConversationRepository, MockWorkflowRepository, Written},
        ErrorCode,
    };

    #[tokio::test]
    async fn a_note_is_signed_by_the_key_and_stored_trimmed() {
        let mut workflow = MockWorkflowRepository::new();
        workflow
            .expect_add_note()
            .times(1)
            .withf(|_, code, note, _| {
                code == "C1"
                    && note.content == "Guest is a VIP"
                    && note.author_code.as_deref() == Some("sam")
                    && note.author_name == "Sam"
                    && note.author_key_id == 3
            })
            .returning(|_, _, note, _| {
                Ok(Created::New(Written::committed(note.stored(1, 1), vec![])))
            });
        let created = with_workflow(MockConversationRepository::new(), workflow)
            .add_note(&key(None), "C1", Some("  Guest is a VIP \n"), None)
            .await
            .unwrap();
        let Created::New(written) = created else {
            panic!("a new note");
        };
        assert_eq!(written.record.content, "Guest is a VIP");
    }

    #[tokio::test]
    async fn an_empty_or_too_long_note_is_refused_before_anything_is_written() {
        for (content, expected) in [
            (None, ErrorCode::MessageRequired),
            (Some("   ".to_owned()), ErrorCode::MessageRequired),
            (Some("x".repeat(4001)), ErrorCode::MessageTooLong),
        ] {
            let mut workflow = MockWorkflowRepository::new();
            workflow.expect_add_note().never();
            let error = with_workflow(MockConversationRepository::new(), workflow)
                .add_note(&key(None), "C1", content.as_deref(), None)
                .await
                .unwrap_err();
            assert_eq!(error.code(), expected);
        }
    }
}
