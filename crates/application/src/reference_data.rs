//! Reference-data files (JSON or TOML) and the demo data set: parsing, validation, hashing
//! of secrets, and loading through the [`ReferenceDataRepository`] port in one transaction.

use std::{collections::HashSet, sync::Arc};

use bellhop_domain::{
    message::MessageContent,
    outlet::{parse_weekday, OpeningInterval, WEEK},
    ports::ReferenceDataRepository,
    quick_reply::unknown_placeholder,
    reference::{
        InterfaceTokenData, LoadSummary, OrderData, OutletData, PropertyData, QuickReplyData,
        ReferenceData, ReferenceEntity, ReferenceField, RejectedEntry, StaffKeyData, StayData,
    },
    reply_clock::{OUT_OF_HOURS_REPLY_MAX_CHARS, TARGET_MINUTES},
    session::parse_language_code,
    webhook::{self, WebhookData, WebhookSecret},
    DomainError, RepositoryError,
};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{error::AppResult, secrets::hash_secret};

/// The file format (documented in the README). Field names are camelCase; unknown fields are
/// errors, so a typo does not silently drop data.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferenceFile {
    pub properties: Vec<PropertyEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PropertyEntry {
    pub code: String,
    pub name: String,
    pub brand_code: String,
    pub group_code: String,
    pub time_zone: String,
    pub default_language: String,
    #[serde(default)]
    pub interface_tokens: Vec<InterfaceTokenEntry>,
    #[serde(default)]
    pub outlets: Vec<OutletEntry>,
    #[serde(default)]
    pub stays: Vec<StayEntry>,
    #[serde(default)]
    pub orders: Vec<OrderEntry>,
    #[serde(default)]
    pub staff_keys: Vec<StaffKeyEntry>,
    #[serde(default)]
    pub quick_replies: Vec<QuickReplyEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookEntry>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterfaceTokenEntry {
    pub token: String,
    #[serde(default)]
    pub label: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutletEntry {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub display_order: i32,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default = "yes")]
    pub allow_guest_messages: bool,
    #[serde(default)]
    pub allow_non_verified_guests: bool,
    #[serde(default)]
    pub service_center_name: String,
    #[serde(default)]
    pub opening_hours: Vec<OpeningHoursEntry>,
    /// Minutes of opening time within which a waiting guest should be answered (1–10080);
    /// absent: no target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_target_minutes: Option<i64>,
    /// The automatic answer to a guest writing while the outlet is closed (1–1000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_hours_reply: Option<String>,
}

/// `day` is a weekday name (`Monday` ... `Sunday`) or `Daily`; times are `HH:MM` local time.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpeningHoursEntry {
    pub day: String,
    pub opens: String,
    pub closes: String,
}

/// Check-in and check-out are RFC 3339 instants with an offset (`2026-11-27T14:00:00+00:00`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StayEntry {
    pub code: String,
    pub room_number: String,
    #[serde(default)]
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub language_code: Option<String>,
    pub check_in: String,
    pub check_out: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderEntry {
    pub code: String,
    pub outlet_code: String,
    pub stay_code: String,
}

/// `outlets` absent means every outlet of the property.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaffKeyEntry {
    pub key: String,
    /// The staff member's code (1 to 50 characters, unique in the property): a key with a
    /// code can be assigned conversations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub display_name: String,
    #[serde(default)]
    pub outlets: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A common answer staff insert with one click. `content` may hold the placeholders of
/// [`bellhop_domain::quick_reply::PLACEHOLDERS`]; `outletCodes` absent means every outlet.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuickReplyEntry {
    pub code: String,
    pub title: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlet_codes: Option<Vec<String>>,
}

/// A webhook endpoint (API section 12). `events` missing or empty: every event type;
/// `outletCodes` missing: every outlet.
#[derive(Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookEntry {
    pub url: String,
    pub secret: String,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub outlet_codes: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl std::fmt::Debug for WebhookEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEntry")
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .field("events", &self.events)
            .field("outlet_codes", &self.outlet_codes)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// A refused entry in the file's words: its path, what it is, and what does not resolve.
pub fn describe_rejected(data: &ReferenceData, entry: RejectedEntry) -> String {
    let (p, i) = (entry.property, entry.index);
    let Some(property) = data.properties.get(p) else {
        return format!("properties[{p}]: a reference does not resolve.");
    };
    match (entry.entity, entry.field) {
        (ReferenceEntity::Order, _) => match property.orders.get(i) {
            Some(order) => format!(
                "properties[{p}].orders[{i}] ({}): outletCode \"{}\" or stayCode \"{}\" is not in property {}.",
                order.code, order.outlet_code, order.stay_code, property.code
            ),
            None => format!("properties[{p}].orders[{i}]: a reference does not resolve."),
        },
        (ReferenceEntity::StaffKey, field) => {
            let name = property
                .staff_keys
                .get(i)
                .map(|key| key.display_name.as_str())
                .unwrap_or_default();
            let detail = match field {
                ReferenceField::KeySecret => {
                    "this key is already used by another property.".to_owned()
                }
                _ => format!(
                    "outlets names an outlet that is not in property {}.",
                    property.code
                ),
            };
            format!("properties[{p}].staffKeys[{i}] ({name}): {detail}")
        }
        (ReferenceEntity::QuickReply, _) => {
            let code = property
                .quick_replies
                .get(i)
                .map(|reply| reply.code.as_str())
                .unwrap_or_default();
            format!(
                "properties[{p}].quickReplies[{i}] ({code}): outletCodes names an outlet that is not in property {}.",
                property.code
            )
        }
        (ReferenceEntity::Webhook, _) => {
            let url = property
                .webhooks
                .get(i)
                .map(|w| w.url.as_str())
                .unwrap_or_default();
            format!(
                "properties[{p}].webhooks[{i}] ({url}).outletCodes: names an outlet that is not in property {}.",
                property.code
            )
        }
    }
}

/// A reference file that cannot be loaded: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReferenceFileError(pub String);

fn fail<T>(path: impl AsRef<str>, message: impl AsRef<str>) -> Result<T, ReferenceFileError> {
    Err(ReferenceFileError(format!(
        "{}: {}",
        path.as_ref(),
        message.as_ref()
    )))
}

/// The formats a reference file may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Json,
    Toml,
}

impl FileFormat {
    /// By file extension: `.toml` is TOML, anything else JSON.
    pub fn from_path(path: &str) -> Self {
        if path.to_ascii_lowercase().ends_with(".toml") {
            Self::Toml
        } else {
            Self::Json
        }
    }
}

/// Parses and validates a reference file.
pub fn parse_reference_file(
    text: &str,
    format: FileFormat,
) -> Result<ReferenceData, ReferenceFileError> {
    let file: ReferenceFile = match format {
        FileFormat::Json => serde_json::from_str(text)
            .map_err(|e| ReferenceFileError(format!("invalid JSON: {e}")))?,
        FileFormat::Toml => {
            toml::from_str(text).map_err(|e| ReferenceFileError(format!("invalid TOML: {e}")))?
        }
    };
    validate(&file)
}

fn text_field(path: &str, field: &str, value: &str, max: usize) -> Result<(), ReferenceFileError> {
    let count = value.chars().count();
    if count == 0 || count > max {
        return fail(
            format!("{path}.{field}"),
            format!("must be 1 to {max} characters"),
        );
    }
    if value.chars().any(char::is_control) {
        return fail(
            format!("{path}.{field}"),
            "must not contain control characters",
        );
    }
    Ok(())
}

fn optional_text_field(
    path: &str,
    field: &str,
    value: &str,
    max: usize,
) -> Result<(), ReferenceFileError> {
    if value.is_empty() {
        Ok(())
    } else {
        text_field(path, field, value, max)
    }
}

/// An outlet's `replyTargetMinutes`: absent, or 1 to 10080 minutes (a week).
fn reply_target(path: &str, minutes: Option<i64>) -> Result<Option<u32>, ReferenceFileError> {
    let Some(minutes) = minutes else {
        return Ok(None);
    };
    match u32::try_from(minutes) {
        Ok(minutes) if TARGET_MINUTES.contains(&minutes) => Ok(Some(minutes)),
        _ => fail(
            format!("{path}.replyTargetMinutes"),
            format!(
                "must be {} to {} minutes",
                TARGET_MINUTES.start(),
                TARGET_MINUTES.end()
            ),
        ),
    }
}

/// An outlet's `outOfHoursReply`: absent, or a message of 1 to 1000 characters (stored
/// trimmed, like every message).
fn out_of_hours_reply(
    path: &str,
    text: Option<&str>,
) -> Result<Option<String>, ReferenceFileError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let trimmed = text.trim();
    let count = trimmed.chars().count();
    if count == 0 || count > OUT_OF_HOURS_REPLY_MAX_CHARS || trimmed.contains('\0') {
        return fail(
            format!("{path}.outOfHoursReply"),
            format!("must be 1 to {OUT_OF_HOURS_REPLY_MAX_CHARS} characters without NUL"),
        );
    }
    Ok(Some(trimmed.to_owned()))
}

fn secret_field(path: &str, field: &str, value: &str) -> Result<(), ReferenceFileError> {
    if value.chars().count() < 8
        || value.len() > 256
        || !value.chars().all(|c| c.is_ascii_graphic())
    {
        return fail(
            format!("{path}.{field}"),
            "must be 8 to 256 printable ASCII characters without spaces",
        );
    }
    Ok(())
}

fn unique<'a>(
    path: &str,
    what: &str,
    codes: impl Iterator<Item = &'a str>,
) -> Result<(), ReferenceFileError> {
    let mut seen = HashSet::new();
    for code in codes {
        if !seen.insert(code) {
            return fail(path, format!("{what} \"{code}\" appears twice"));
        }
    }
    Ok(())
}

fn parse_time(path: &str, raw: &str) -> Result<NaiveTime, ReferenceFileError> {
    NaiveTime::parse_from_str(raw, "%H:%M")
        .or_else(|_| fail(path, format!("\"{raw}\" is not a time HH:MM")))
}

fn parse_instant(path: &str, raw: &str) -> Result<DateTime<Utc>, ReferenceFileError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            fail(
                path,
                format!("\"{raw}\" is not an RFC 3339 date-time with an offset"),
            )
        })
}

/// Checks every entry and turns the file into domain reference data with hashed secrets.
pub fn validate(file: &ReferenceFile) -> Result<ReferenceData, ReferenceFileError> {
    unique(
        "properties",
        "property code",
        file.properties.iter().map(|p| p.code.as_str()),
    )?;
    let properties = file
        .properties
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            validate_property(&format!("properties[{index}] ({})", entry.code), entry)
        })
        .collect::<Result<_, _>>()?;
    Ok(ReferenceData { properties })
}

fn validate_property(
    path: &str,
    entry: &PropertyEntry,
) -> Result<PropertyData, ReferenceFileError> {
    text_field(path, "code", &entry.code, 50)?;
    text_field(path, "name", &entry.name, 200)?;
    optional_text_field(path, "brandCode", &entry.brand_code, 50)?;
    optional_text_field(path, "groupCode", &entry.group_code, 50)?;
    let time_zone = entry.time_zone.parse().or_else(|_| {
        fail(
            format!("{path}.timeZone"),
            format!("\"{}\" is not an IANA time zone", entry.time_zone),
        )
    })?;
    let default_language = parse_language_code(&entry.default_language)
        .or_else(|_| fail(format!("{path}.defaultLanguage"), "is not a language code"))?;

    let interface_tokens = entry
        .interface_tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let at = format!("{path}.interfaceTokens[{i}]");
            secret_field(&at, "token", &token.token)?;
            optional_text_field(&at, "label", &token.label, 200)?;
            Ok(InterfaceTokenData {
                token_hash: hash_secret(&token.token),
                label: token.label.clone(),
                enabled: token.enabled,
            })
        })
        .collect::<Result<Vec<_>, ReferenceFileError>>()?;

    unique(
        &format!("{path}.outlets"),
        "outlet code",
        entry.outlets.iter().map(|o| o.code.as_str()),
    )?;
    let outlets = entry
        .outlets
        .iter()
        .enumerate()
        .map(|(i, outlet)| {
            let at = format!("{path}.outlets[{i}] ({})", outlet.code);
            text_field(&at, "code", &outlet.code, 50)?;
            text_field(&at, "name", &outlet.name, 200)?;
            optional_text_field(&at, "description", &outlet.description, 2000)?;
            optional_text_field(&at, "serviceCenterName", &outlet.service_center_name, 200)?;
            let mut opening_hours = Vec::new();
            for (h, hours) in outlet.opening_hours.iter().enumerate() {
                let at = format!("{at}.openingHours[{h}]");
                let opens = parse_time(&format!("{at}.opens"), &hours.opens)?;
                let closes = parse_time(&format!("{at}.closes"), &hours.closes)?;
                let days = if hours.day.eq_ignore_ascii_case("daily") {
                    WEEK.to_vec()
                } else {
                    vec![parse_weekday(&hours.day).map_or_else(
                        || {
                            fail(
                                format!("{at}.day"),
                                format!("\"{}\" is not a weekday or Daily", hours.day),
                            )
                        },
                        Ok,
                    )?]
                };
                for day in days {
                    let interval = OpeningInterval { day, opens, closes };
                    if opening_hours
                        .iter()
                        .any(|o: &OpeningInterval| o.day == day && o.opens == opens)
                    {
                        return fail(at, "two intervals open on the same day at the same time");
                    }
                    opening_hours.push(interval);
                }
            }
            Ok(OutletData {
                code: outlet.code.clone(),
                name: outlet.name.clone(),
                description: outlet.description.clone(),
                display_order: outlet.display_order,
                active: outlet.active,
                allow_guest_messages: outlet.allow_guest_messages,
                allow_non_verified_guests: outlet.allow_non_verified_guests,
                service_center_name: outlet.service_center_name.clone(),
                opening_hours,
                reply_target_minutes: reply_target(&at, outlet.reply_target_minutes)?,
                out_of_hours_reply: out_of_hours_reply(&at, outlet.out_of_hours_reply.as_deref())?,
            })
        })
        .collect::<Result<Vec<_>, ReferenceFileError>>()?;

    unique(
        &format!("{path}.stays"),
        "stay code",
        entry.stays.iter().map(|s| s.code.as_str()),
    )?;
    let stays = entry
        .stays
        .iter()
        .enumerate()
        .map(|(i, stay)| {
            let at = format!("{path}.stays[{i}] ({})", stay.code);
            text_field(&at, "code", &stay.code, 50)?;
            text_field(&at, "roomNumber", &stay.room_number, 20)?;
            optional_text_field(&at, "firstName", &stay.first_name, 100)?;
            text_field(&at, "lastName", &stay.last_name, 100)?;
            let language_code = match &stay.language_code {
                Some(code) => parse_language_code(code)
                    .or_else(|_| fail(format!("{at}.languageCode"), "is not a language code"))?,
                None => default_language.clone(),
            };
            let check_in = parse_instant(&format!("{at}.checkIn"), &stay.check_in)?;
            let check_out = parse_instant(&format!("{at}.checkOut"), &stay.check_out)?;
            if check_out <= check_in {
                return fail(format!("{at}.checkOut"), "must be after checkIn");
            }
            Ok(StayData {
                code: stay.code.clone(),
                room_number: stay.room_number.clone(),
                first_name: stay.first_name.clone(),
                last_name: stay.last_name.clone(),
                language_code,
                check_in,
                check_out,
            })
        })
        .collect::<Result<Vec<_>, ReferenceFileError>>()?;

    unique(
        &format!("{path}.orders"),
        "order code",
        entry.orders.iter().map(|o| o.code.as_str()),
    )?;
    let orders = entry
        .orders
        .iter()
        .enumerate()
        .map(|(i, order)| {
            let at = format!("{path}.orders[{i}] ({})", order.code);
            text_field(&at, "code", &order.code, 50)?;
            text_field(&at, "outletCode", &order.outlet_code, 50)?;
            text_field(&at, "stayCode", &order.stay_code, 50)?;
            Ok(OrderData {
                code: order.code.clone(),
                outlet_code: order.outlet_code.clone(),
                stay_code: order.stay_code.clone(),
            })
        })
        .collect::<Result<Vec<_>, ReferenceFileError>>()?;

    unique(
        &format!("{path}.staffKeys"),
        "staff member code",
        entry.staff_keys.iter().filter_map(|k| k.code.as_deref()),
    )?;
    let staff_keys = entry
        .staff_keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let at = format!("{path}.staffKeys[{i}] ({})", key.display_name);
            secret_field(&at, "key", &key.key)?;
            if let Some(code) = &key.code {
                text_field(&at, "code", code, 50)?;
            }
            text_field(&at, "displayName", &key.display_name, 100)?;
            if let Some(codes) = &key.outlets {
                for (o, code) in codes.iter().enumerate() {
                    if !entry.outlets.iter().any(|outlet| &outlet.code == code) {
                        return fail(
                            format!("{at}.outlets[{o}]"),
                            format!("\"{code}\" is not an outlet of this property"),
                        );
                    }
                }
            }
            Ok(StaffKeyData {
                key_hash: hash_secret(&key.key),
                code: key.code.clone(),
                display_name: key.display_name.clone(),
                outlet_codes: key.outlets.clone(),
                enabled: key.enabled,
            })
        })
        .collect::<Result<Vec<_>, ReferenceFileError>>()?;

    unique(
        &format!("{path}.quickReplies"),
        "quick reply code",
        entry.quick_replies.iter().map(|r| r.code.as_str()),
    )?;
    let quick_replies = entry
        .quick_replies
        .iter()
        .enumerate()
        .map(|(i, reply)| {
            validate_quick_reply(
                &format!("{path}.quickReplies[{i}] ({})", reply.code),
                reply,
                &entry.outlets,
            )
        })
        .collect::<Result<Vec<_>, ReferenceFileError>>()?;
    let webhooks = validate_webhooks(path, entry)?;

    Ok(PropertyData {
        code: entry.code.clone(),
        name: entry.name.clone(),
        brand_code: entry.brand_code.clone(),
        group_code: entry.group_code.clone(),
        time_zone,
        default_language,
        interface_tokens,
        outlets,
        stays,
        orders,
        staff_keys,
        quick_replies,
        webhooks,
    })
}

/// A quick reply's code, title and text, its placeholders (only the known ones) and its
/// outlets (only the property's).
fn validate_quick_reply(
    at: &str,
    reply: &QuickReplyEntry,
    outlets: &[OutletEntry],
) -> Result<QuickReplyData, ReferenceFileError> {
    text_field(at, "code", &reply.code, 50)?;
    text_field(at, "title", &reply.title, 100)?;
    // The text of a message: 1 to 4000 characters, newlines allowed, no NUL.
    if reply.content.trim().is_empty()
        || reply.content.chars().count() > MessageContent::MAX_CHARS
        || reply.content.contains('\0')
    {
        return fail(
            format!("{at}.content"),
            format!("must be 1 to {} characters", MessageContent::MAX_CHARS),
        );
    }
    if let Some(placeholder) = unknown_placeholder(&reply.content) {
        return fail(
            format!("{at}.content"),
            format!("{placeholder} is not a placeholder (known: {{{{guest.firstName}}}}, {{{{guest.lastName}}}}, {{{{room}}}}, {{{{outlet.name}}}}, {{{{serviceCenter}}}}, {{{{staff.name}}}})"),
        );
    }
    if let Some(codes) = &reply.outlet_codes {
        for (o, code) in codes.iter().enumerate() {
            if !outlets.iter().any(|outlet| &outlet.code == code) {
                return fail(
                    format!("{at}.outletCodes[{o}]"),
                    format!("\"{code}\" is not an outlet of this property"),
                );
            }
        }
    }
    Ok(QuickReplyData {
        code: reply.code.clone(),
        title: reply.title.clone(),
        content: reply.content.clone(),
        outlet_codes: reply.outlet_codes.clone(),
    })
}

/// A property's webhooks: an http(s) url unique in the property, a Standard Webhooks
/// secret, known event types, outlets of the property. Errors name the entry by its url and
/// never quote the secret.
fn validate_webhooks(
    path: &str,
    entry: &PropertyEntry,
) -> Result<Vec<WebhookData>, ReferenceFileError> {
    unique(
        &format!("{path}.webhooks"),
        "url",
        entry.webhooks.iter().map(|w| w.url.as_str()),
    )?;
    entry
        .webhooks
        .iter()
        .enumerate()
        .map(|(i, hook)| {
            let at = format!("{path}.webhooks[{i}] ({})", hook.url);
            text_field(&at, "url", &hook.url, 2000)?;
            let scheme_ok = hook.url.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
                    && !rest.is_empty()
                    && !rest.starts_with('/')
                    && !rest.chars().any(char::is_whitespace)
            });
            if !scheme_ok {
                return fail(format!("{at}.url"), "must be an http:// or https:// URL");
            }
            let secret = WebhookSecret::parse(&hook.secret)
                .or_else(|why| fail(format!("{at}.secret"), why))?;
            let event_types = webhook::event_types(hook.events.as_deref()).or_else(|unknown| {
                fail(
                    format!("{at}.events"),
                    format!("\"{unknown}\" is not an event type"),
                )
            })?;
            if let Some(codes) = &hook.outlet_codes {
                for (o, code) in codes.iter().enumerate() {
                    if !entry.outlets.iter().any(|outlet| &outlet.code == code) {
                        return fail(
                            format!("{at}.outletCodes[{o}]"),
                            format!("\"{code}\" is not an outlet of this property"),
                        );
                    }
                }
            }
            Ok(WebhookData {
                url: hook.url.clone(),
                secret,
                event_types,
                outlet_codes: hook.outlet_codes.clone(),
                enabled: hook.enabled,
            })
        })
        .collect()
}

fn outlet(
    order: i32,
    code: &str,
    name: &str,
    description: &str,
    flags: (bool, bool, bool),
    service_center: &str,
    hours: Option<(&str, &str)>,
) -> OutletEntry {
    let (active, allow_guest_messages, allow_non_verified_guests) = flags;
    OutletEntry {
        code: code.into(),
        name: name.into(),
        description: description.into(),
        display_order: order,
        active,
        allow_guest_messages,
        allow_non_verified_guests,
        service_center_name: service_center.into(),
        opening_hours: hours
            .map(|(opens, closes)| {
                vec![OpeningHoursEntry {
                    day: "Daily".into(),
                    opens: opens.into(),
                    closes: closes.into(),
                }]
            })
            .unwrap_or_default(),
        reply_target_minutes: None,
        out_of_hours_reply: None,
    }
}

/// The demo outlets' reply targets (section 14; `demo-data.md`): room service 10 minutes, the
/// bar 5, the concierge 15, none elsewhere.
fn with_demo_reply_targets(mut outlets: Vec<OutletEntry>) -> Vec<OutletEntry> {
    for outlet in &mut outlets {
        outlet.reply_target_minutes = match outlet.code.as_str() {
            "ROOMSVC" => Some(10),
            "BAR" => Some(5),
            "CONCIERGE" => Some(15),
            _ => None,
        };
    }
    outlets
}

/// The fixed demo data set (`docs/demo-data.md`). Stays run from yesterday to three
/// days from `now`, so reloading moves only those dates.
pub fn demo_file(now: DateTime<Utc>) -> ReferenceFile {
    let check_in = (now - Duration::days(1)).to_rfc3339();
    let check_out = (now + Duration::days(3)).to_rfc3339();
    let stay = |room: &str, first: &str, last: &str, language: &str| StayEntry {
        code: format!("DEMO-STAY-{room}"),
        room_number: room.into(),
        first_name: first.into(),
        last_name: last.into(),
        language_code: Some(language.into()),
        check_in: check_in.clone(),
        check_out: check_out.clone(),
    };
    let order = |code: &str, outlet: &str, room: &str| OrderEntry {
        code: code.into(),
        outlet_code: outlet.into(),
        stay_code: format!("DEMO-STAY-{room}"),
    };
    ReferenceFile {
        properties: vec![PropertyEntry {
            code: "DEMO-HOTEL".into(),
            name: "Bellhop Demo Hotel".into(),
            brand_code: "DEMO-BRAND".into(),
            group_code: "DEMO-GROUP".into(),
            time_zone: "Europe/London".into(),
            default_language: "en".into(),
            interface_tokens: vec![InterfaceTokenEntry {
                token: "demo-interface-token".into(),
                label: "Demo guest app".into(),
                enabled: true,
            }],
            outlets: with_demo_reply_targets(vec![
                outlet(
                    1,
                    "SPA",
                    "Spa",
                    "Treatments and wellness",
                    (true, false, false),
                    "Spa Reception",
                    Some(("09:00", "20:00")),
                ),
                outlet(
                    2,
                    "ROOMSVC",
                    "In-Room Dining",
                    "Food and drinks to your room",
                    (true, true, false),
                    "Room Service Centre",
                    None,
                ),
                outlet(
                    3,
                    "BAR",
                    "Lobby Bar",
                    "Cocktails and light bites",
                    (true, true, true),
                    "Bar Team",
                    Some(("17:00", "01:00")),
                ),
                outlet(
                    4,
                    "CONCIERGE",
                    "Concierge",
                    "Tickets, taxis and tips",
                    (true, true, true),
                    "Front Desk",
                    None,
                ),
                outlet(
                    5,
                    "POOLBAR",
                    "Pool Bar",
                    "Seasonal, closed",
                    (false, true, true),
                    "Pool Team",
                    None,
                ),
            ]),
            stays: vec![
                stay("101", "Ada", "Lovelace", "en"),
                stay("102", "Alan", "Turing", "en"),
                stay("203", "Grace", "Hopper", "fr"),
                stay("204", "José", "Núñez", "es"),
            ],
            orders: vec![
                order("ORD-1001", "ROOMSVC", "101"),
                order("ORD-1002", "BAR", "101"),
                order("ORD-2001", "ROOMSVC", "102"),
            ],
            staff_keys: vec![
                StaffKeyEntry {
                    key: "demo-staff-key".into(),
                    code: Some("front-desk".into()),
                    display_name: "Front Desk Demo".into(),
                    outlets: None,
                    enabled: true,
                },
                StaffKeyEntry {
                    key: "demo-bar-key".into(),
                    code: Some("bar".into()),
                    display_name: "Bar Demo".into(),
                    outlets: Some(vec!["BAR".into()]),
                    enabled: true,
                },
            ],
            quick_replies: vec![
                QuickReplyEntry {
                    code: "TOWELS".into(),
                    title: "Towels on the way".into(),
                    content:
                        "Hello {{guest.firstName}}, fresh towels are on their way to room {{room}}."
                            .into(),
                    outlet_codes: None,
                },
                QuickReplyEntry {
                    code: "BAR-HOURS".into(),
                    title: "Bar hours".into(),
                    content: "The {{outlet.name}} is open every day from 17:00 to 01:00.".into(),
                    outlet_codes: Some(vec!["BAR".into()]),
                },
            ],
            webhooks: Vec::new(),
        }],
    }
}

/// Loads validated reference data in one transaction.
#[derive(Clone)]
pub struct ReferenceDataService {
    repository: Arc<dyn ReferenceDataRepository>,
}

impl ReferenceDataService {
    pub fn new(repository: Arc<dyn ReferenceDataRepository>) -> Self {
        Self { repository }
    }

    /// Loads the data set; an entry the store refuses is `InvalidRequest` naming the entry by
    /// its path in the file.
    pub async fn load(&self, data: &ReferenceData) -> AppResult<LoadSummary> {
        match self.repository.load_reference_data(data).await {
            Err(RepositoryError::Domain(DomainError::ReferenceRejected(entry))) => {
                Err(DomainError::invalid_request(describe_rejected(data, entry)).into())
            }
            result => Ok(result?),
        }
    }

    /// Loads the demo data set with stay dates around `now`.
    pub async fn load_demo(&self, now: DateTime<Utc>) -> AppResult<LoadSummary> {
        let data = validate(&demo_file(now)).map_err(crate::AppError::internal)?;
        self.load(&data).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellhop_domain::{ports::MockReferenceDataRepository, ErrorCode};

    #[tokio::test]
    async fn the_demo_data_is_loaded_through_the_port_and_its_refusals_come_back() {
        let mut repository = MockReferenceDataRepository::new();
        repository
            .expect_load_reference_data()
            .times(1)
            .withf(|data| data.properties.len() == 1 && data.properties[0].code == "DEMO-HOTEL")
            .returning(|_| Ok(LoadSummary::default()));
        let service = ReferenceDataService::new(Arc::new(repository));
        assert!(service.load_demo(Utc::now()).await.is_ok());

        let mut refusing = MockReferenceDataRepository::new();
        refusing.expect_load_reference_data().returning(|_| {
            Err(DomainError::ReferenceRejected(RejectedEntry {
                property: 0,
                entity: ReferenceEntity::StaffKey,
                index: 0,
                field: ReferenceField::Outlets,
            })
            .into())
        });
        let error = ReferenceDataService::new(Arc::new(refusing))
            .load_demo(Utc::now())
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidRequest);
        assert!(
            error
                .to_string()
                .starts_with("properties[0].staffKeys[0] ("),
            "{error}"
        );
        assert!(
            error.to_string().ends_with("not in property DEMO-HOTEL."),
            "{error}"
        );
    }

    #[test]
    fn the_demo_file_is_valid() {
        let data = validate(&demo_file(Utc::now())).unwrap();
        let property = &data.properties[0];
        assert_eq!(property.outlets.len(), 5);
        assert_eq!(property.outlets[0].opening_hours.len(), 7);
        assert_eq!(property.stays.len(), 4);
        assert_eq!(
            property.staff_keys[1].outlet_codes.as_deref(),
            Some(&["BAR".to_owned()][..])
        );
        assert_ne!(property.interface_tokens[0].token_hash, [0; 32]);
    }

    #[test]
    fn the_demo_file_round_trips_through_json_and_toml() {
        let file = demo_file(Utc::now());
        let json = serde_json::to_string(&file).unwrap();
        assert!(parse_reference_file(&json, FileFormat::Json).is_ok());
        let toml = toml::to_string(&file).unwrap();
        assert!(parse_reference_file(&toml, FileFormat::Toml).is_ok());
    }

    #[test]
    fn a_bad_time_names_the_entry_and_field() {
        let mut file = demo_file(Utc::now());
        file.properties[0].outlets[2].opening_hours[0].opens = "25:00".into();
        let error = validate(&file).unwrap_err().0;
        assert_eq!(error, "properties[0] (DEMO-HOTEL).outlets[2] (BAR).openingHours[0].opens: \"25:00\" is not a time HH:MM");
    }

    #[test]
    fn the_demo_outlets_have_their_reply_targets_and_no_out_of_hours_reply() {
        let data = validate(&demo_file(Utc::now())).unwrap();
        let targets: Vec<_> = data.properties[0]
            .outlets
            .iter()
            .map(|o| {
                (
                    o.code.as_str(),
                    o.reply_target_minutes,
                    o.out_of_hours_reply.is_some(),
                )
            })
            .collect();
        assert_eq!(
            targets,
            [
                ("SPA", None, false),
                ("ROOMSVC", Some(10), false),
                ("BAR", Some(5), false),
                ("CONCIERGE", Some(15), false),
                ("POOLBAR", None, false),
            ]
        );
    }

    #[test]
    fn a_reply_target_outside_a_minute_to_a_week_names_the_entry_and_field() {
        for bad in [0, -5, 10_081, i64::MAX] {
            let mut file = demo_file(Utc::now());
            file.properties[0].outlets[2].reply_target_minutes = Some(bad);
            let error = validate(&file).unwrap_err().0;
            assert_eq!(
                error,
                "properties[0] (DEMO-HOTEL).outlets[2] (BAR).replyTargetMinutes: must be 1 to 10080 minutes"
            );
        }
        let mut file = demo_file(Utc::now());
        file.properties[0].outlets[2].reply_target_minutes = Some(10_080);
        assert!(validate(&file).is_ok());
    }

    #[test]
    fn an_out_of_hours_reply_must_be_one_to_a_thousand_characters() {
        for bad in ["", "   ", &"é".repeat(1001), "a\0b"] {
            let mut file = demo_file(Utc::now());
            file.properties[0].outlets[2].out_of_hours_reply = Some(bad.to_owned());
            let error = validate(&file).unwrap_err().0;
            assert!(
                error.starts_with("properties[0] (DEMO-HOTEL).outlets[2] (BAR).outOfHoursReply: "),
                "{error}"
            );
        }
        let mut file = demo_file(Utc::now());
        file.properties[0].outlets[2].out_of_hours_reply = Some(format!(" {} ", "é".repeat(1000)));
        let data = validate(&file).unwrap();
        assert_eq!(
            data.properties[0].outlets[2].out_of_hours_reply,
            Some("é".repeat(1000))
        );
    }

    #[test]
    fn reply_settings_are_read_from_json_and_toml() {
        let json = r#"{"properties":[{"code":"H","name":"H","brandCode":"B","groupCode":"G","timeZone":"Europe/London","defaultLanguage":"en",
            "outlets":[{"code":"BAR","name":"Bar","displayOrder":1,"replyTargetMinutes":5,"outOfHoursReply":"We open at five."}]}]}"#;
        let data = parse_reference_file(json, FileFormat::Json).unwrap();
        assert_eq!(data.properties[0].outlets[0].reply_target_minutes, Some(5));
        let toml = "[[properties]]\ncode = \"H\"\nname = \"H\"\nbrandCode = \"B\"\ngroupCode = \"G\"\ntimeZone = \"Europe/London\"\ndefaultLanguage = \"en\"\n[[properties.outlets]]\ncode = \"BAR\"\nname = \"Bar\"\ndisplayOrder = 1\nreplyTargetMinutes = 0\n";
        let error = parse_reference_file(toml, FileFormat::Toml).unwrap_err().0;
        assert!(
            error.contains("outlets[0] (BAR).replyTargetMinutes"),
            "{error}"
        );
        let json = json.replace("\"We open at five.\"", "\"\"");
        let error = parse_reference_file(&json, FileFormat::Json).unwrap_err().0;
        assert!(
            error.contains("outlets[0] (BAR).outOfHoursReply"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_field_is_an_error() {
        let error = parse_reference_file(r#"{"properties": [], "extra": 1}"#, FileFormat::Json)
            .unwrap_err()
            .0;
        assert!(error.contains("unknown field `extra`"), "{error}");
    }

    #[test]
    fn a_key_limited_to_an_unknown_outlet_is_an_error() {
        let mut file = demo_file(Utc::now());
        file.properties[0].staff_keys[1].outlets = Some(vec!["NOPE".into()]);
        let error = validate(&file).unwrap_err().0;
        assert!(
            error.contains("staffKeys[1] (Bar Demo).outlets[0]"),
            "{error}"
        );
    }

    #[test]
    fn the_demo_keys_are_staff_members_and_its_quick_replies_are_loaded() {
        let data = validate(&demo_file(Utc::now())).unwrap();
        let property = &data.properties[0];
        let codes: Vec<_> = property
            .staff_keys
            .iter()
            .map(|k| k.code.as_deref())
            .collect();
        assert_eq!(codes, [Some("front-desk"), Some("bar")]);
        let replies: Vec<_> = property
            .quick_replies
            .iter()
            .map(|r| (r.code.as_str(), r.outlet_codes.clone()))
            .collect();
        assert_eq!(
            replies,
            [
                ("TOWELS", None),
                ("BAR-HOURS", Some(vec!["BAR".to_owned()]))
            ]
        );
    }

    #[test]
    fn staff_member_codes_are_1_to_50_characters_and_unique_in_the_property() {
        let mut file = demo_file(Utc::now());
        file.properties[0].staff_keys[1].code = Some("front-desk".into());
        let error = validate(&file).unwrap_err().0;
        assert_eq!(
            error,
            "properties[0] (DEMO-HOTEL).staffKeys: staff member code \"front-desk\" appears twice"
        );
        file.properties[0].staff_keys[1].code = Some("x".repeat(51));
        let error = validate(&file).unwrap_err().0;
        assert_eq!(
            error,
            "properties[0] (DEMO-HOTEL).staffKeys[1] (Bar Demo).code: must be 1 to 50 characters"
        );
        file.properties[0].staff_keys[1].code = Some(String::new());
        assert!(validate(&file).is_err());
        file.properties[0].staff_keys[1].code = None;
        assert!(validate(&file).is_ok());
    }

    #[test]
    fn a_quick_reply_with_an_unknown_placeholder_is_rejected_naming_it() {
        let mut file = demo_file(Utc::now());
        file.properties[0].quick_replies[1].content = "Dear {{guest.name}}".into();
        let error = validate(&file).unwrap_err().0;
        assert!(
            error.starts_with(
                "properties[0] (DEMO-HOTEL).quickReplies[1] (BAR-HOURS).content: {{guest.name}} is not a placeholder"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_quick_reply_is_checked_field_by_field() {
        type Change = fn(&mut QuickReplyEntry);
        let cases: [(Change, &str); 5] = [
            (
                |r| r.code = String::new(),
                "quickReplies[0] ().code: must be 1 to 50",
            ),
            (
                |r| r.title = "t".repeat(101),
                "quickReplies[0] (TOWELS).title: must be 1 to 100",
            ),
            (
                |r| r.content = "   ".into(),
                "quickReplies[0] (TOWELS).content: must be 1 to 4000",
            ),
            (
                |r| r.content = "x".repeat(4001),
                "quickReplies[0] (TOWELS).content: must be 1 to 4000",
            ),
            (
                |r| r.outlet_codes = Some(vec!["NOPE".into()]),
                "quickReplies[0] (TOWELS).outletCodes[0]: \"NOPE\" is not an outlet",
            ),
        ];
        for (change, expected) in cases {
            let mut file = demo_file(Utc::now());
            change(&mut file.properties[0].quick_replies[0]);
            let error = validate(&file).unwrap_err().0;
            assert!(error.contains(expected), "{error}");
        }
        let mut file = demo_file(Utc::now());
        let copy = file.properties[0].quick_replies[0].clone();
        file.properties[0].quick_replies.push(copy);
        assert!(validate(&file)
            .unwrap_err()
            .0
            .contains("quick reply code \"TOWELS\" appears twice"));
    }

    #[test]
    fn staff_codes_and_quick_replies_are_read_from_toml_too() {
        let text = r#"
            [[properties]]
            code = "H"
            name = "Hotel"
            brandCode = ""
            groupCode = ""
            timeZone = "Europe/London"
            defaultLanguage = "en"

            [[properties.outlets]]
            code = "BAR"
            name = "Bar"
            displayOrder = 1

            [[properties.staffKeys]]
            key = "a-long-staff-key"
            code = "sam"
            displayName = "Sam"

            [[properties.quickReplies]]
            code = "HI"
            title = "Hello"
            content = "Hello {{guest.firstName}}"
            outletCodes = ["BAR"]
        "#;
        let data = parse_reference_file(text, FileFormat::Toml).unwrap();
        let property = &data.properties[0];
        assert_eq!(property.staff_keys[0].code.as_deref(), Some("sam"));
        assert_eq!(
            property.quick_replies[0].content,
            "Hello {{guest.firstName}}"
        );
        assert_eq!(
            property.quick_replies[0].outlet_codes,
            Some(vec!["BAR".to_owned()])
        );
    }

    #[test]
    fn check_out_must_follow_check_in() {
        let mut file = demo_file(Utc::now());
        file.properties[0].stays[0].check_out = file.properties[0].stays[0].check_in.clone();
        let error = validate(&file).unwrap_err().0;
        assert!(
            error.contains("stays[0] (DEMO-STAY-101).checkOut"),
            "{error}"
        );
    }

    const HOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn with_hook(hook: &str) -> Result<ReferenceData, ReferenceFileError> {
        let mut file = serde_json::to_value(demo_file(Utc::now())).unwrap();
        file["properties"][0]["webhooks"] = serde_json::from_str(hook).unwrap();
        parse_reference_file(&file.to_string(), FileFormat::Json)
    }

    #[test]
    fn a_webhook_is_read_from_json_with_its_defaults() {
        let data = with_hook(&format!(
            r#"[{{"url": "https://pms.example/hook", "secret": "{HOOK_SECRET}"}},
                {{"url": "http://bridge.example/in", "secret": "{HOOK_SECRET}",
                  "events": ["message.created"], "outletCodes": ["BAR"], "enabled": false}}]"#
        ))
        .unwrap();
        let hooks = &data.properties[0].webhooks;
        assert_eq!(hooks.len(), 2);
        assert!(
            hooks[0].enabled && hooks[0].event_types.is_none() && hooks[0].outlet_codes.is_none()
        );
        assert_eq!(hooks[0].secret.key().len(), 24);
        assert!(!hooks[1].enabled);
        assert_eq!(
            hooks[1].event_types.as_deref(),
            Some(&["message.created".to_owned()][..])
        );
        assert_eq!(
            hooks[1].outlet_codes.as_deref(),
            Some(&["BAR".to_owned()][..])
        );
    }

    #[test]
    fn a_webhook_is_read_from_toml() {
        let mut file = demo_file(Utc::now());
        file.properties[0].webhooks = Vec::new();
        let toml = format!(
            "{}\n[[properties.webhooks]]\nurl = \"https://pms.example/hook\"\nsecret = \"{HOOK_SECRET}\"\nevents = [\"conversation.created\"]\n",
            toml::to_string(&file).unwrap()
        );
        let data = parse_reference_file(&toml, FileFormat::Toml).unwrap();
        assert_eq!(
            data.properties[0].webhooks[0].url,
            "https://pms.example/hook"
        );
    }

    #[test]
    fn a_malformed_webhook_is_named_by_its_url_and_field() {
        let cases = [
            (
                format!(r#"[{{"url": "ftp://x.example/", "secret": "{HOOK_SECRET}"}}]"#),
                "webhooks[0] (ftp://x.example/).url: must be an http:// or https:// URL",
            ),
            (
                r#"[{"url": "https://x.example/", "secret": "whsec_c2hvcnQ="}]"#.to_owned(),
                "webhooks[0] (https://x.example/).secret: must encode 24 to 64 bytes",
            ),
            (
                r#"[{"url": "https://x.example/", "secret": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]"#.to_owned(),
                "webhooks[0] (https://x.example/).secret: must start with whsec_",
            ),
            (
                format!(r#"[{{"url": "https://x.example/", "secret": "{HOOK_SECRET}", "events": ["message.sent"]}}]"#),
                "webhooks[0] (https://x.example/).events: \"message.sent\" is not an event type",
            ),
            (
                format!(r#"[{{"url": "https://x.example/", "secret": "{HOOK_SECRET}", "outletCodes": ["GYM"]}}]"#),
                "webhooks[0] (https://x.example/).outletCodes[0]: \"GYM\" is not an outlet of this property",
            ),
            (
                format!(r#"[{{"url": "https://x.example/", "secret": "{HOOK_SECRET}"}}, {{"url": "https://x.example/", "secret": "{HOOK_SECRET}"}}]"#),
                "webhooks: url \"https://x.example/\" appears twice",
            ),
        ];
        for (hook, expected) in cases {
            let error = with_hook(&hook).unwrap_err().0;
            assert!(error.ends_with(expected), "{error} / {expected}");
            assert!(
                !error.contains("MfKQ9r8GKYqr"),
                "the secret leaked: {error}"
            );
        }
    }

    #[test]
    fn a_webhook_entrys_debug_output_hides_the_secret() {
        let data = with_hook(&format!(
            r#"[{{"url": "https://pms.example/hook", "secret": "{HOOK_SECRET}"}}]"#
        ))
        .unwrap();
        assert!(!format!("{data:?}").contains("MfKQ9r8GKYqr"));
        let entry = WebhookEntry {
            url: "https://pms.example/hook".into(),
            secret: HOOK_SECRET.into(),
            events: None,
            outlet_codes: None,
            enabled: true,
        };
        assert!(!format!("{entry:?}").contains("MfKQ9r8GKYqr"));
    }

    #[test]
    fn duplicate_codes_are_errors() {
        let mut file = demo_file(Utc::now());
        let copy = file.properties[0].outlets[0].clone();
        file.properties[0].outlets.push(copy);
        assert!(validate(&file)
            .unwrap_err()
            .0
            .contains("outlet code \"SPA\" appears twice"));
    }
}
