//! The outlet-fallback rule: which outlet a new conversation goes to.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::{
    error::DomainError,
    order::Order,
    outlet::{Audience, Outlet},
};

/// What the guest asked for.
#[derive(Debug, Clone, Copy)]
pub struct OutletRequest<'a> {
    pub outlet_code: Option<&'a str>,
    pub order: Option<&'a Order>,
    pub audience: Audience,
}

/// Picks the outlet: the explicit `outletCode`; else the order's outlet; else the first
/// available outlet (active, accepting this audience, open now) by display order, then code.
///
/// An explicit or order outlet ignores opening hours but must be active (else
/// `OutletNotFound`, exactly like an unknown code) and accept the audience (else
/// `OutletNotAllowed`). With both an outlet and an order, the order must be from that outlet
/// (`OrderOutletMismatch`). Nothing available is `NoOutletAvailable`.
pub fn select_outlet<'a>(
    outlets: &'a [Outlet],
    request: OutletRequest<'_>,
    time_zone: Tz,
    now: DateTime<Utc>,
) -> Result<&'a Outlet, DomainError> {
    let named = match (request.outlet_code, request.order) {
        (Some(code), _) => Some(outlets.iter().find(|o| o.code == code)),
        (None, Some(order)) => Some(outlets.iter().find(|o| o.id == order.outlet_id)),
        (None, None) => None,
    };
    match named {
        Some(found) => {
            let outlet = found.ok_or(DomainError::OutletNotFound)?;
            outlet.usable_by(request.audience)?;
            if request
                .order
                .is_some_and(|order| order.outlet_id != outlet.id)
            {
                return Err(DomainError::OrderOutletMismatch);
            }
            Ok(outlet)
        }
        None => first_available(outlets, request.audience, time_zone, now)
            .ok_or(DomainError::NoOutletAvailable),
    }
}

/// The first outlet that is active, accepts the audience and is open at `now`.
pub fn first_available(
    outlets: &[Outlet],
    audience: Audience,
    time_zone: Tz,
    now: DateTime<Utc>,
) -> Option<&Outlet> {
    outlets
        .iter()
        .filter(|o| o.usable_by(audience).is_ok() && o.is_open_at(time_zone, now))
        .min_by(|a, b| (a.display_order, &a.code).cmp(&(b.display_order, &b.code)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlet::OpeningInterval;
    use chrono::{NaiveTime, TimeZone};
    use chrono_tz::Europe::London;

    fn outlet(id: i64, code: &str, order: i32) -> Outlet {
        Outlet {
            id,
            property_id: 1,
            code: code.into(),
            name: code.into(),
            description: String::new(),
            display_order: order,
            active: true,
            allow_guest_messages: true,
            allow_non_verified_guests: false,
            service_center_name: format!("{code} team"),
            opening_hours: vec![],
            reply_target_minutes: None,
            out_of_hours_reply: None,
        }
    }

    fn daily(opens: u32, closes: u32) -> Vec<OpeningInterval> {
        crate::outlet::WEEK
            .into_iter()
            .map(|day| OpeningInterval {
                day,
                opens: NaiveTime::from_hms_opt(opens, 0, 0).unwrap(),
                closes: NaiveTime::from_hms_opt(closes, 0, 0).unwrap(),
            })
            .collect()
    }

    /// The demo property's outlets (demo-data.md).
    fn demo() -> Vec<Outlet> {
        let mut spa = outlet(1, "SPA", 1);
        spa.allow_guest_messages = false;
        spa.opening_hours = daily(9, 20);
        let roomsvc = outlet(2, "ROOMSVC", 2);
        let mut bar = outlet(3, "BAR", 3);
        bar.allow_non_verified_guests = true;
        bar.opening_hours = daily(17, 1);
        let mut concierge = outlet(4, "CONCIERGE", 4);
        concierge.allow_non_verified_guests = true;
        let mut pool = outlet(5, "POOLBAR", 5);
        pool.active = false;
        pool.allow_non_verified_guests = true;
        vec![pool, concierge, bar, roomsvc, spa]
    }

    fn at(h: u32) -> DateTime<Utc> {
        London
            .with_ymd_and_hms(2026, 3, 10, h, 0, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn request(code: Option<&str>, audience: Audience) -> OutletRequest<'_> {
        OutletRequest {
            outlet_code: code,
            order: None,
            audience,
        }
    }

    fn pick(
        outlets: &[Outlet],
        request: OutletRequest<'_>,
        hour: u32,
    ) -> Result<String, DomainError> {
        select_outlet(outlets, request, London, at(hour)).map(|o| o.code.clone())
    }

    #[test]
    fn a_verified_guest_falls_back_to_room_service() {
        assert_eq!(
            pick(&demo(), request(None, Audience::VerifiedGuest), 12),
            Ok("ROOMSVC".into())
        );
    }

    #[test]
    fn a_visitor_falls_back_to_the_bar_while_it_is_open_and_the_concierge_otherwise() {
        assert_eq!(
            pick(&demo(), request(None, Audience::Visitor), 18),
            Ok("BAR".into())
        );
        assert_eq!(
            pick(&demo(), request(None, Audience::Visitor), 0),
            Ok("BAR".into())
        );
        assert_eq!(
            pick(&demo(), request(None, Audience::Visitor), 12),
            Ok("CONCIERGE".into())
        );
    }

    #[test]
    fn ties_in_display_order_are_broken_by_code() {
        let outlets = vec![outlet(1, "ZED", 1), outlet(2, "ALPHA", 1)];
        assert_eq!(
            pick(&outlets, request(None, Audience::VerifiedGuest), 12),
            Ok("ALPHA".into())
        );
    }

    #[test]
    fn an_explicit_outlet_ignores_opening_hours() {
        assert_eq!(
            pick(&demo(), request(Some("BAR"), Audience::VerifiedGuest), 12),
            Ok("BAR".into())
        );
    }

    #[test]
    fn an_explicit_code_matches_letter_case_exactly() {
        assert_eq!(
            pick(&demo(), request(Some("bar"), Audience::VerifiedGuest), 12),
            Err(DomainError::OutletNotFound)
        );
    }

    #[test]
    fn an_inactive_outlet_is_not_found_like_an_unknown_one() {
        assert_eq!(
            pick(
                &demo(),
                request(Some("POOLBAR"), Audience::VerifiedGuest),
                12
            ),
            Err(DomainError::OutletNotFound)
        );
        assert_eq!(
            pick(&demo(), request(Some("NOPE"), Audience::VerifiedGuest), 12),
            Err(DomainError::OutletNotFound)
        );
    }

    #[test]
    fn an_outlet_without_guest_messages_is_not_allowed() {
        assert_eq!(
            pick(&demo(), request(Some("SPA"), Audience::VerifiedGuest), 12),
            Err(DomainError::OutletNotAllowed)
        );
    }

    #[test]
    fn a_visitor_needs_an_outlet_that_allows_non_verified_guests() {
        assert_eq!(
            pick(&demo(), request(Some("ROOMSVC"), Audience::Visitor), 12),
            Err(DomainError::OutletNotAllowed)
        );
        assert_eq!(
            pick(&demo(), request(Some("CONCIERGE"), Audience::Visitor), 12),
            Ok("CONCIERGE".into())
        );
    }

    #[test]
    fn the_orders_outlet_is_used_when_no_outlet_is_given() {
        let outlets = demo();
        let order = Order {
            id: 1,
            property_id: 1,
            code: "ORD-1002".into(),
            outlet_id: 3,
            stay_id: 1,
        };
        let req = OutletRequest {
            outlet_code: None,
            order: Some(&order),
            audience: Audience::VerifiedGuest,
        };
        assert_eq!(pick(&outlets, req, 12), Ok("BAR".into()));
    }

    #[test]
    fn an_order_from_another_outlet_conflicts_with_the_outlet_given() {
        let outlets = demo();
        let order = Order {
            id: 1,
            property_id: 1,
            code: "ORD-1002".into(),
            outlet_id: 3,
            stay_id: 1,
        };
        let req = OutletRequest {
            outlet_code: Some("ROOMSVC"),
            order: Some(&order),
            audience: Audience::VerifiedGuest,
        };
        assert_eq!(
            pick(&outlets, req, 12),
            Err(DomainError::OrderOutletMismatch)
        );
        let req = OutletRequest {
            outlet_code: Some("BAR"),
            order: Some(&order),
            audience: Audience::VerifiedGuest,
        };
        assert_eq!(pick(&outlets, req, 12), Ok("BAR".into()));
    }

    #[test]
    fn an_order_whose_outlet_is_inactive_is_outlet_not_found() {
        let outlets = demo();
        let order = Order {
            id: 1,
            property_id: 1,
            code: "ORD-9".into(),
            outlet_id: 5,
            stay_id: 1,
        };
        let req = OutletRequest {
            outlet_code: None,
            order: Some(&order),
            audience: Audience::VerifiedGuest,
        };
        assert_eq!(pick(&outlets, req, 12), Err(DomainError::OutletNotFound));
    }

    #[test]
    fn no_outlet_at_all_is_no_outlet_available() {
        let mut outlets = demo();
        outlets.retain(|o| o.code == "SPA" || o.code == "BAR");
        assert_eq!(
            pick(&outlets, request(None, Audience::VerifiedGuest), 12),
            Err(DomainError::NoOutletAvailable)
        );
        assert_eq!(
            pick(&[], request(None, Audience::Visitor), 12),
            Err(DomainError::NoOutletAvailable)
        );
    }
}
