//! The quick replies a key may use, as written or rendered for one conversation.

use bellhop_domain::{
    conversation::Viewer,
    quick_reply::{render, sort_by_title, PlaceholderValues, QuickReply},
    staff::StaffKey,
};
use tracing::instrument;

use super::StaffService;
use crate::error::AppResult;

impl StaffService {
    /// Without a conversation: the property's quick replies for the key's outlets, as
    /// written. With one (a conversation of the key, else `ConversationNotFound`): those that
    /// apply to its outlet, rendered for it and signed with the key's display name. Both
    /// ordered by title.
    #[instrument(skip_all)]
    pub async fn quick_replies(
        &self,
        key: &StaffKey,
        conversation_code: Option<&str>,
    ) -> AppResult<Vec<QuickReply>> {
        let mut replies = match conversation_code {
            None => {
                let mut replies = self.workflow.quick_replies(key.scope.property_id).await?;
                replies.retain(|r| r.visible_to(key.scope.outlet_ids.as_deref()));
                replies
            }
            Some(code) => {
                let viewer = Viewer::Staff(key.scope.clone());
                let conversation = self.conversations.find_conversation(&viewer, code).await?;
                let outlet = self.outlet_by_code(key, &conversation.outlet_code).await?;
                let values = PlaceholderValues {
                    guest_first_name: conversation.guest_first_name,
                    guest_last_name: conversation.guest_last_name,
                    room: conversation.room_number,
                    outlet_name: Some(conversation.outlet_name),
                    service_center: Some(outlet.service_center_name.clone()),
                    staff_name: Some(key.display_name.clone()),
                };
                let mut replies = self.workflow.quick_replies(key.scope.property_id).await?;
                replies.retain(|r| r.applies_to(outlet.id));
                for reply in &mut replies {
                    reply.content = render(&reply.content, &values);
                }
                replies
            }
        };
        sort_by_title(&mut replies);
        Ok(replies)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{conversation, key, with_workflow};
    use bellhop_domain::{
        ports::{MockConversationRepository, MockWorkflowRepository},
        quick_reply::QuickReply,
        DomainError, ErrorCode,
    };

    fn workflow() -> MockWorkflowRepository {
        let mut workflow = MockWorkflowRepository::new();
        workflow.expect_quick_replies().returning(|_| {
            Ok(vec![
                QuickReply {
                    code: "TOWELS".into(),
                    title: "Towels on the way".into(),
                    content: "Hello {{guest.firstName}}, room {{room}}. {{staff.name}}".into(),
                    outlet_ids: None,
                },
                QuickReply {
                    code: "BAR-HOURS".into(),
                    title: "Bar hours".into(),
                    content: "The {{outlet.name}} ({{serviceCenter}})".into(),
                    outlet_ids: Some(vec![4]),
                },
            ])
        });
        workflow
    }

    fn codes(replies: &[QuickReply]) -> Vec<&str> {
        replies.iter().map(|r| r.code.as_str()).collect()
    }

    #[tokio::test]
    async fn a_key_lists_the_replies_of_its_outlets_as_written_by_title() {
        let service = with_workflow(MockConversationRepository::new(), workflow());
        let all = service.quick_replies(&key(None), None).await.unwrap();
        assert_eq!(codes(&all), ["BAR-HOURS", "TOWELS"]);
        assert_eq!(all[0].content, "The {{outlet.name}} ({{serviceCenter}})");
        let room_service = service
            .quick_replies(&key(Some(vec![2])), None)
            .await
            .unwrap();
        assert_eq!(codes(&room_service), ["TOWELS"]);
    }

    #[tokio::test]
    async fn for_a_conversation_only_the_replies_of_its_outlet_are_rendered_for_it() {
        let mut conversations = MockConversationRepository::new();
        conversations
            .expect_find_conversation()
            .returning(|_, code| Ok(conversation(code, "BAR")));
        let service = with_workflow(conversations, workflow());
        let replies = service.quick_replies(&key(None), Some("C1")).await.unwrap();
        assert_eq!(codes(&replies), ["BAR-HOURS", "TOWELS"]);
        assert_eq!(replies[0].content, "The BAR name (BAR team)");
        assert_eq!(replies[1].content, "Hello Ada, room 101. Sam");
    }

    #[tokio::test]
    async fn a_visitors_missing_room_and_names_render_as_empty_text() {
        let mut conversations = MockConversationRepository::new();
        conversations
            .expect_find_conversation()
            .returning(|_, code| {
                let mut visitor = conversation(code, "ROOMSVC");
                visitor.room_number = None;
                visitor.guest_first_name = None;
                Ok(visitor)
            });
        let service = with_workflow(conversations, workflow());
        let replies = service.quick_replies(&key(None), Some("C1")).await.unwrap();
        assert_eq!(codes(&replies), ["TOWELS"]);
        assert_eq!(replies[0].content, "Hello , room . Sam");
    }

    #[tokio::test]
    async fn an_unknown_conversation_is_not_found() {
        let mut conversations = MockConversationRepository::new();
        conversations
            .expect_find_conversation()
            .returning(|_, _| Err(DomainError::ConversationNotFound.into()));
        let mut workflow = MockWorkflowRepository::new();
        workflow.expect_quick_replies().never();
        let error = with_workflow(conversations, workflow)
            .quick_replies(&key(None), Some("C1"))
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::ConversationNotFound);
    }
}
