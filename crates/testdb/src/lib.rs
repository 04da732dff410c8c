//! One fresh, migrated PostgreSQL database per test, named uniquely per test *and run*
//! (`bellhop_test_<pid>_<n>_<random>`), dropped when the test ends (pass or fail).
//!
//! `#[sqlx::test]` names its databases after the test path alone and drops a database of that
//! name before creating it, so two runs of the suite on one server (two engineers, two CI jobs)
//! drop each other's databases. Here nothing is shared between runs: the server named by
//! `DATABASE_URL` (its database is only used to create and drop the test databases, so the
//! always-present `postgres` database does) gets databases no other run can name.
//!
//! ```ignore
//! #[bellhop_testdb::test]
//! async fn a_test(pool: PgPool) { … }
//! ```

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    str::FromStr,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

pub use bellhop_testdb_macros::test;
use futures_util::FutureExt;
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, Executor, PgConnection, PgPool,
};

/// Where the test databases are created when `DATABASE_URL` is unset.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static NEXT: AtomicU32 = AtomicU32::new(0);

fn master_options() -> PgConnectOptions {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("DATABASE_URL is not a PostgreSQL URL: {e}"))
}

fn unique_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "bellhop_test_{}_{}_{nanos:08x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn master() -> PgConnection {
    let options = master_options();
    PgConnection::connect_with(&options)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot reach the test database server (DATABASE_URL, database {:?} on {}:{}): {e}",
                options.get_database().unwrap_or(options.get_username()),
                options.get_host(),
                options.get_port()
            )
        })
}

/// Creates the database, retrying while another session holds the template (SQLSTATE 55006).
async fn create(name: &str, test_path: &str) {
    let mut connection = master().await;
    for attempt in 0.. {
        match connection
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
        {
            Ok(_) => break,
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("55006") && attempt < 50 =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot create the test database {name}: {e}"),
        }
    }
    // Says which test left it, should a killed run leave one behind.
    let comment = format!(
        "COMMENT ON DATABASE \"{name}\" IS '{}'",
        test_path.replace('\'', "''")
    );
    let _ = connection.execute(comment.as_str()).await;
    let _ = connection.close().await;
}

async fn drop_database(name: &str) {
    let mut connection = master().await;
    if let Err(e) = connection
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await
    {
        eprintln!("could not drop the test database {name}: {e}");
    }
    let _ = connection.close().await;
}

/// Runs `test` on a single-threaded runtime with a pool over a new database that has every
/// migration applied, then drops the database (also when the test panics, whose panic is then
/// passed on).
pub fn run<F, Fut>(test_path: &str, test: F)
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start a runtime: {e}"));
    runtime.block_on(async move {
        let name = unique_name();
        create(&name, test_path).await;
        let pool = PgPoolOptions::new()
            // No single test takes the whole server; idle connections close quickly.
            .max_connections(5)
            .idle_timeout(Some(Duration::from_secs(1)))
            .connect_lazy_with(master_options().database(&name));
        let outcome = match bellhop_persistence::MIGRATOR.run(&pool).await {
            Ok(()) => AssertUnwindSafe(test(pool.clone())).catch_unwind().await,
            Err(e) => Err(Box::new(format!("migrations failed on {name}: {e}")) as _),
        };
        // A test that kept a connection must not hang the run: FORCE ends it.
        let _ = tokio::time::timeout(Duration::from_secs(5), pool.close()).await;
        drop_database(&name).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    });
}
