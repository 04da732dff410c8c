//! Orders a guest placed with an outlet, and the rule that a guest may only talk about their own.

use crate::{error::DomainError, outlet::OutletId, property::PropertyId, stay::StayId};

pub type OrderId = i64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub property_id: PropertyId,
    pub code: String,
    pub outlet_id: OutletId,
    pub stay_id: StayId,
}

/// An order found by code is only usable by the guest of its stay; for anybody else it does
/// not exist (never say which).
pub fn owned_order(
    order: Option<Order>,
    property_id: PropertyId,
    stay_id: StayId,
) -> Result<Order, DomainError> {
    match order {
        Some(order) if order.property_id == property_id && order.stay_id == stay_id => Ok(order),
        _ => Err(DomainError::OrderNotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(property_id: PropertyId, stay_id: StayId) -> Order {
        Order {
            id: 7,
            property_id,
            code: "ORD-1".into(),
            outlet_id: 2,
            stay_id,
        }
    }

    #[test]
    fn the_guest_of_the_stay_owns_the_order() {
        assert_eq!(owned_order(Some(order(1, 10)), 1, 10).map(|o| o.id), Ok(7));
    }

    #[test]
    fn another_guests_order_is_not_found() {
        assert_eq!(
            owned_order(Some(order(1, 11)), 1, 10),
            Err(DomainError::OrderNotFound)
        );
    }

    #[test]
    fn another_propertys_order_is_not_found() {
        assert_eq!(
            owned_order(Some(order(2, 10)), 1, 10),
            Err(DomainError::OrderNotFound)
        );
    }

    #[test]
    fn a_missing_order_is_not_found() {
        assert_eq!(owned_order(None, 1, 10), Err(DomainError::OrderNotFound));
    }
}
