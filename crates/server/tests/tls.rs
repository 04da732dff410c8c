//! TLS to PostgreSQL: a throwaway cluster that accepts TLS connections only, with a server
//! certificate from a CA made by the test. Bellhop's own bootstrap connects with
//! `sslmode=require`, `verify-full` checks the certificate against `sslrootcert`, and
//! `sslmode=disable` is turned away.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/cluster.rs"]
mod cluster;

use std::str::FromStr;

use bellhop_server::{config::Settings, database};
use cluster::{Cluster, Setup};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use sqlx::{postgres::PgConnectOptions, Connection, PgConnection};

/// A CA (its certificate in PEM) and the issuer to sign with.
fn certificate_authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// The server's certificate and key (PEM), for 127.0.0.1 and localhost.
fn server_certificate(ca: &CertifiedIssuer<'static, KeyPair>) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let certificate = params.signed_by(&key, ca).unwrap();
    (certificate.pem(), key.serialize_pem())
}

fn settings(url: &str) -> Settings {
    Settings::from_lookup(
        |name| match name {
            "DATABASE_URL" => Some(url.to_owned()),
            "BELLHOP_SESSION_SECRET" => Some("tls-test-secret-0123456789abcdef0123".to_owned()),
            _ => None,
        },
        false,
    )
    .unwrap()
}

async fn connect(url: &str) -> Result<PgConnection, sqlx::Error> {
    PgConnection::connect_with(&PgConnectOptions::from_str(url)?).await
}

#[tokio::test]
async fn bellhop_connects_over_tls_verifies_the_server_and_plain_text_is_refused() {
    let ca = certificate_authority("Bellhop test CA");
    let other_ca = certificate_authority("Some other CA");
    let (server_cert, server_key) = server_certificate(&ca);
    let Some(cluster) = Cluster::start(Setup {
        conf: "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n".into(),
        hba: "hostnossl all all 127.0.0.1/32 reject\n\
              hostssl all all 127.0.0.1/32 trust\n"
            .into(),
        files: vec![
            ("server.crt".into(), server_cert),
            ("server.key".into(), server_key),
        ],
    }) else {
        return;
    };
    let ca_file = cluster.write_file("ca.crt", &ca.pem());
    let other_ca_file = cluster.write_file("other-ca.crt", &other_ca.pem());

    // (a) The bootstrap (create the database through the maintenance database, pool,
    // migrations) over `sslmode=require`.
    let require = cluster.url("postgres", "bellhop_tls", "?sslmode=require");
    let settings = settings(&require);
    database::ensure_database(&settings)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", cluster.log()));
    let pool = database::pool(&settings).unwrap();
    database::migrate(&pool).await.unwrap();
    assert!(bellhop_persistence::is_ready(&pool).await);
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(encrypted, "the pool's connection is not encrypted");
    pool.close().await;

    // (b) verify-full: the right CA and a certificate naming the host connects, by address
    // and by name; another CA is refused.
    for host in ["127.0.0.1", "localhost"] {
        let url = format!(
            "postgres://postgres@{host}:{}/bellhop_tls?sslmode=verify-full&sslrootcert={}",
            cluster.port,
            ca_file.display()
        );
        let connection = connect(&url)
            .await
            .unwrap_or_else(|e| panic!("verify-full against {host}: {e}"));
        connection.close().await.unwrap();
    }
    let wrong_ca = format!(
        "{}&sslrootcert={}",
        cluster.url("postgres", "bellhop_tls", "?sslmode=verify-full"),
        other_ca_file.display()
    );
    let refused = connect(&wrong_ca).await;
    assert!(
        refused.is_err(),
        "verify-full accepted a server certificate from an unknown CA"
    );
    // The same refusal through Bellhop's bootstrap, with a message naming the database.
    let error = database::ensure_database(&self::settings(&wrong_ca))
        .await
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("\"bellhop_tls\"") && message.contains(&cluster.port.to_string()),
        "{message}"
    );

    // (c) The server takes TLS only: a plain-text connection is turned away.
    let plain = connect(&cluster.url("postgres", "bellhop_tls", "?sslmode=disable")).await;
    assert!(plain.is_err(), "a plain-text connection was accepted");
}
