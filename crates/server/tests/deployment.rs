//! The `bellhop` binary in a real deployment, each test on its own throwaway PostgreSQL
//! cluster (so it can have roles and a `pg_hba.conf` of its own):
//!
//! - operator commands reach only their own database (the role may not connect to `postgres`)
//!   and need no session secret;
//! - a missing database is created through the maintenance database, and errors name the
//!   database and server but never the password;
//! - an older build keeps running after a newer release applied a migration it does not know.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/cluster.rs"]
mod cluster;

use std::process::{Command, Output};

use cluster::{Cluster, Setup};
use sqlx::{Connection, Executor, PgConnection};

const SECRET: &str = "deployment-test-secret-0123456789abcdef";
const PASSWORD: &str = "hunter2-not-in-logs";

fn trust_all() -> Setup {
    Setup {
        hba: "host all all 127.0.0.1/32 trust\n".into(),
        ..Setup::default()
    }
}

/// Runs `bellhop ARGS` against `url`, with the session secret only when `secret` is true.
/// `BELLHOP_BIN` names another binary to test (e.g. a release build).
fn bellhop(url: &str, secret: bool, args: &[&str]) -> Output {
    let binary =
        std::env::var_os("BELLHOP_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_bellhop").into());
    let mut command = Command::new(binary);
    command
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .env_remove("BELLHOP_SESSION_SECRET")
        .env_remove("BELLHOP_SESSION_SECRET_PREVIOUS");
    if secret {
        command.env("BELLHOP_SESSION_SECRET", SECRET);
    }
    command.output().expect("run bellhop")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[track_caller]
fn assert_success(output: &Output, expected_stdout: &str) {
    assert!(
        output.status.success()
            && String::from_utf8_lossy(&output.stdout).contains(expected_stdout),
        "{}",
        text(output)
    );
}

async fn admin(cluster: &Cluster) -> PgConnection {
    PgConnection::connect(&cluster.url("postgres", "postgres", ""))
        .await
        .unwrap()
}

#[tokio::test]
async fn operator_commands_use_only_their_own_database_and_need_no_session_secret() {
    // The application role may connect to its own database only, as on a managed server.
    let Some(cluster) = Cluster::start(Setup {
        hba: "host postgres app 127.0.0.1/32 reject\n\
              host template1 app 127.0.0.1/32 reject\n\
              host all all 127.0.0.1/32 trust\n"
            .into(),
        ..Setup::default()
    }) else {
        return;
    };
    let mut admin = admin(&cluster).await;
    admin
        .execute("CREATE ROLE app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'x'")
        .await
        .unwrap();
    admin
        .execute("CREATE DATABASE hotel OWNER app")
        .await
        .unwrap();
    assert!(
        PgConnection::connect(&cluster.url("app", "postgres", ""))
            .await
            .is_err(),
        "the set-up should keep the role out of the maintenance database"
    );
    let url = format!("postgres://app:{PASSWORD}@127.0.0.1:{}/hotel", cluster.port);

    // With the secret: only the database access is tested.
    assert_success(&bellhop(&url, true, &["migrate"]), "migrations applied");
    // Without it: none of these sign tokens.
    assert_success(&bellhop(&url, false, &["migrate"]), "migrations applied");
    assert_success(
        &bellhop(&url, false, &["load", "--demo"]),
        "loaded 1 properties",
    );
    assert_success(
        &bellhop(&url, false, &["sessions", "purge"]),
        "deleted 0 sessions",
    );
    let check = bellhop(&url, false, &["check-config"]);
    assert_success(&check, "unset (serve requires it)");
    assert!(!text(&check).contains(PASSWORD), "{}", text(&check));

    // A runtime role with rights on rows only (no CREATE on the schema) needs nothing more
    // once the owner has migrated.
    let mut hotel = PgConnection::connect(&cluster.url("postgres", "hotel", ""))
        .await
        .unwrap();
    hotel
        .execute(
            "CREATE ROLE app_runtime LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; \
             REVOKE ALL ON DATABASE hotel FROM PUBLIC; \
             GRANT CONNECT ON DATABASE hotel TO app, app_runtime; \
             REVOKE CREATE ON SCHEMA public FROM PUBLIC; \
             GRANT USAGE ON SCHEMA public TO app_runtime; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app_runtime; \
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO app_runtime;",
        )
        .await
        .unwrap();
    hotel.close().await.unwrap();
    let runtime = cluster.url("app_runtime", "hotel", "");
    assert_success(
        &bellhop(&runtime, false, &["load", "--demo"]),
        "loaded 1 properties",
    );
    assert_success(
        &bellhop(&runtime, false, &["sessions", "purge"]),
        "deleted 0 sessions",
    );

    // Webhooks: loaded from a file, listed without their secret, failed ones re-queued.
    let mut file = bellhop_application::reference_data::demo_file(chrono::Utc::now());
    file.properties[0].webhooks = vec![bellhop_application::reference_data::WebhookEntry {
        url: "https://pms.example/hook".into(),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        events: None,
        outlet_codes: Some(vec!["BAR".into()]),
        enabled: true,
    }];
    let hooks = cluster.write_file("hooks.json", &serde_json::to_string(&file).unwrap());
    assert_success(
        &bellhop(&runtime, false, &["load", &hooks.to_string_lossy()]),
        "2 staff keys, 2 quick replies, 1 webhooks",
    );
    let status = bellhop(&runtime, false, &["webhooks", "status"]);
    assert_success(&status, "DEMO-HOTEL https://pms.example/hook");
    assert_success(&status, "pending 0  delivered 0  failed 0");
    assert!(!text(&status).contains("MfKQ9r8GKYqr"), "{}", text(&status));
    assert_success(
        &bellhop(
            &runtime,
            false,
            &["webhooks", "retry", "--since", "2026-12-01T00:00:00Z"],
        ),
        "queued 0 failed deliveries again",
    );
    let bad = bellhop(
        &runtime,
        false,
        &["webhooks", "retry", "--since", "yesterday"],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));

    // `serve` signs tokens: it still refuses to start without the secret.
    let serve = bellhop(&url, false, &["serve"]);
    assert_eq!(serve.status.code(), Some(2), "{}", text(&serve));
    assert!(text(&serve).contains("BELLHOP_SESSION_SECRET is required"));
}

#[tokio::test]
async fn a_missing_database_is_created_and_errors_name_the_database_but_not_the_password() {
    let Some(cluster) = Cluster::start(trust_all()) else {
        return;
    };
    let mut admin = admin(&cluster).await;
    admin
        .execute("CREATE ROLE app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        .await
        .unwrap();

    // A role that may create databases gets it made, through the maintenance database.
    let creator = format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{}/fresh",
        cluster.port
    );
    assert_success(
        &bellhop(&creator, false, &["migrate"]),
        "migrations applied",
    );
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'fresh')")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(exists);

    // A role that may not: the error says which database on which server, without the password.
    let url = format!(
        "postgres://app:{PASSWORD}@127.0.0.1:{}/missing",
        cluster.port
    );
    let failed = bellhop(&url, false, &["migrate"]);
    let output = text(&failed);
    assert_eq!(failed.status.code(), Some(1), "{output}");
    assert!(output.contains("database \"missing\""), "{output}");
    assert!(
        output.contains(&format!("127.0.0.1:{}", cluster.port)),
        "{output}"
    );
    assert!(output.contains("permission denied"), "{output}");
    assert!(!output.contains(PASSWORD), "{output}");
}

#[tokio::test]
async fn an_older_build_keeps_running_after_a_newer_release_applied_a_migration() {
    let Some(cluster) = Cluster::start(trust_all()) else {
        return;
    };
    let url = cluster.url("postgres", "hotel", "");
    assert_success(&bellhop(&url, false, &["migrate"]), "migrations applied");

    // A newer release's migration, unknown to this build.
    let mut hotel = PgConnection::connect(&url).await.unwrap();
    hotel
        .execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'from a newer release', true, sha384('newer'::bytea), 1)",
        )
        .await
        .unwrap();

    let again = bellhop(&url, false, &["migrate"]);
    assert_success(&again, "migrations applied");
    let logs = String::from_utf8_lossy(&again.stderr);
    assert!(
        logs.contains("newer than this build") && logs.contains("99990101000000"),
        "{}",
        text(&again)
    );

    // Readiness holds: every migration this build knows is applied.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    assert!(bellhop_persistence::is_ready(&pool).await);
    // The migrator itself accepts the unknown migration (it runs when one of ours is pending).
    bellhop_persistence::rolling_migrator()
        .run(&pool)
        .await
        .unwrap();
    assert!(bellhop_persistence::MIGRATOR.run(&pool).await.is_err());
    pool.close().await;
    hotel.close().await.unwrap();
}
