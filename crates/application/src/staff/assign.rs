//! Staff assign a conversation to a staff member, or to nobody.

use bellhop_domain::{
    conversation::{Conversation, ConversationEvent, Viewer},
    staff::StaffKey,
    DomainError,
};
use tracing::instrument;

use super::StaffService;
use crate::error::AppResult;

impl StaffService {
    /// Makes the member with `assignee_code` (`None`: nobody) the owner of a conversation of
    /// the key; returns the conversation as it now stands and what happened.
    ///
    /// The conversation must be the key's (`ConversationNotFound`), the member must exist
    /// (`StaffMemberNotFound`) and their key must cover the conversation's outlet
    /// (`AssigneeNotAllowed`); a refused assignment writes nothing.
    #[instrument(skip_all)]
    pub async fn assign(
        &self,
        key: &StaffKey,
        code: &str,
        assignee_code: Option<&str>,
    ) -> AppResult<(Conversation, Vec<ConversationEvent>)> {
        let viewer = Viewer::Staff(key.scope.clone());
        let conversation = self.conversations.find_conversation(&viewer, code).await?;
        let assignee = match assignee_code {
            None => None,
            Some(assignee_code) => {
                let member = self
                    .workflow
                    .find_staff_member(key.scope.property_id, assignee_code)
                    .await?
                    .ok_or(DomainError::StaffMemberNotFound)?;
                let outlet = self.outlet_by_code(key, &conversation.outlet_code).await?;
                member.may_own(outlet.id)?;
                Some(member)
            }
        };
        let events = self.workflow.assign(&viewer, code, assignee).await?;
        let conversation = self
            .conversations
            .get_conversation(&viewer, code, None)
            .await?;
        Ok((conversation, events))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{conversation, key, with_workflow};
    use bellhop_domain::{
        ports::{MockConversationRepository, MockWorkflowRepository},
        staff::{Assignee, StaffMember, StaffScope},
        ErrorCode,
    };

    fn member(code: &str, outlet_ids: Option<Vec<i64>>) -> StaffMember {
        StaffMember {
            key_id: 8,
            code: code.into(),
            display_name: "Bar Demo".into(),
            scope: StaffScope {
                property_id: 1,
                outlet_ids,
            },
        }
    }

    fn conversations() -> MockConversationRepository {
        let mut conversations = MockConversationRepository::new();
        conversations
            .expect_find_conversation()
            .returning(|_, code| Ok(conversation(code, "ROOMSVC")));
        conversations
            .expect_get_conversation()
            .returning(|_, code, _| {
                let mut c = conversation(code, "ROOMSVC");
                c.assignee = Some(Assignee {
                    code: "bar".into(),
                    display_name: "Bar Demo".into(),
                });
                Ok(c)
            });
        conversations
    }

    #[tokio::test]
    async fn a_member_whose_key_covers_the_outlet_is_assigned() {
        let mut workflow = MockWorkflowRepository::new();
        workflow
            .expect_find_staff_member()
            .withf(|property_id, code| *property_id == 1 && code == "bar")
            .returning(|_, code| Ok(Some(member(code, Some(vec![2])))));
        workflow
            .expect_assign()
            .times(1)
            .withf(|_, code, assignee| {
                code == "C1" && assignee.as_ref().map(|m| m.key_id) == Some(8)
            })
            .returning(|_, _, _| Ok(vec![]));
        let (conversation, _) = with_workflow(conversations(), workflow)
            .assign(&key(None), "C1", Some("bar"))
            .await
            .unwrap();
        assert_eq!(conversation.assignee.unwrap().code, "bar");
    }

    #[tokio::test]
    async fn an_unknown_member_is_not_found_and_nothing_is_written() {
        let mut workflow = MockWorkflowRepository::new();
        workflow
            .expect_find_staff_member()
            .returning(|_, _| Ok(None));
        workflow.expect_assign().never();
        let error = with_workflow(conversations(), workflow)
            .assign(&key(None), "C1", Some("nobody"))
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::StaffMemberNotFound);
    }

    #[tokio::test]
    async fn a_member_whose_key_does_not_cover_the_outlet_is_not_allowed() {
        let mut workflow = MockWorkflowRepository::new();
        // ROOMSVC is outlet 2; the member's key covers only the bar (4).
        workflow
            .expect_find_staff_member()
            .returning(|_, code| Ok(Some(member(code, Some(vec![4])))));
        workflow.expect_assign().never();
        let error = with_workflow(conversations(), workflow)
            .assign(&key(None), "C1", Some("bar"))
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::AssigneeNotAllowed);
    }

    #[tokio::test]
    async fn no_code_unassigns_without_looking_anyone_up() {
        let mut workflow = MockWorkflowRepository::new();
        workflow.expect_find_staff_member().never();
        workflow
            .expect_assign()
            .times(1)
            .withf(|_, _, assignee| assignee.is_none())
            .returning(|_, _, _| Ok(vec![]));
        assert!(with_workflow(conversations(), workflow)
            .assign(&key(None), "C1", None)
            .await
            .is_ok());
    }
}
