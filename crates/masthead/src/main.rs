//! `masthead`: one binary for a newsroom's site. This file is wiring only:
//! parse the command line, open the store, hand over to the right layer.

mod artwork;
mod backup;
mod bench_seed;
mod copy;
mod demo;
mod ghost;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use masthead_render::{Theme, render_markdown};
use masthead_store::{NewLiveEntry, Store};
use masthead_web::media_store::{MediaStore, S3Credentials};
use masthead_web::{AppState, PublicUrl, WebConfig};

#[derive(Parser)]
#[command(
    name = "masthead",
    version,
    about = "A self-hosted publishing platform for reader-funded newsrooms"
)]
struct Cli {
    /// Where the database and media live (created if missing).
    #[arg(
        long,
        global = true,
        env = "MASTHEAD_DATA_DIR",
        default_value = "./data"
    )]
    data_dir: PathBuf,
    /// Where uploaded images go: `file:///path`, or an S3-compatible bucket,
    /// `s3://bucket[/prefix]?endpoint=https://host&region=name`, with keys from
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (default: DATA_DIR/media).
    #[arg(long, global = true, env = "MASTHEAD_MEDIA_URL", value_name = "URL")]
    media_url: Option<String>,
    /// A PostgreSQL database to keep the site in instead of the SQLite file
    /// in --data-dir: `postgres://user:password@host:port/database`. It is
    /// migrated on open. Media and content files stay in --data-dir (or
    /// --media-url).
    #[arg(
        long,
        global = true,
        env = "MASTHEAD_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site (creating, migrating and seeding demo content on first run).
    Serve(ServeArgs),
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Fill an empty site with demo content, or with a large benchmark archive.
    Seed {
        /// Build a benchmark archive of N posts (default 100,000) instead of the demo newsroom.
        #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "100000")]
        bench: Option<usize>,
    },
    /// Work with live roundups.
    #[command(subcommand)]
    Live(LiveCommand),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys for the Ghost-compatible Content and Admin APIs.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Import content from another platform.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write a consistent snapshot of the site (database, uploaded media and
    /// content files) to one archive, while the site serves and writes.
    Backup {
        /// The archive to write: a tar, gzip'd if the name ends in .gz or .tgz.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Bring a backup back into --data-dir, which must be new or empty.
    Restore {
        /// An archive written by `masthead backup`.
        file: PathBuf,
        /// Replace a data directory that is not empty (stop its server first;
        /// the old directory is kept beside it, renamed).
        #[arg(long)]
        force: bool,
    },
    /// Copy the whole site into another database, in one transaction: from
    /// the SQLite file to PostgreSQL, back, or between two of a kind. The
    /// source is the site's database (--database-url, or the SQLite file in
    /// --data-dir). Media and content files are not copied: they stay in
    /// --data-dir or --media-url.
    Copy {
        /// Where to copy the site: a PostgreSQL URL
        /// (postgres://user:password@host:port/database, or libpq's
        /// key=value form), or a SQLite database file (a directory means its
        /// masthead.db). It is created (a SQLite file) and migrated if
        /// needed, and must not hold a site already.
        #[arg(
            long,
            env = "MASTHEAD_COPY_TO",
            value_name = "URL|PATH",
            hide_env_values = true
        )]
        to: String,
        /// Replace a site the target already holds: it is emptied in the same
        /// transaction as the copy, so an error leaves it as it was.
        #[arg(long, alias = "force")]
        replace: bool,
    },
    /// Write the whole site as a Ghost-compatible JSON export.
    Export {
        /// File to write (standard output if not given).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// A Ghost JSON export (Ghost 2 to 5: HTML, Mobiledoc or Lexical bodies).
    /// Runs in one transaction; re-running it adds nothing twice.
    Ghost {
        /// The export file (Ghost: Settings, Labs, Export your content).
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a key and print it (content: 26 hex; admin: id:secret).
    Create {
        /// content or admin.
        kind: String,
        /// What the key is for (shown in the desk).
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a staff account, non-interactively.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// contributor, author, editor, administrator or owner.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MASTHEAD_ADDR", default_value = "127.0.0.1:2369")]
    addr: SocketAddr,
    /// A theme directory whose templates/ and assets/ override the built-in theme.
    #[arg(long, env = "MASTHEAD_THEME_DIR")]
    theme_dir: Option<PathBuf>,
    /// Start an empty site instead of seeding demo content on first run.
    #[arg(long, env = "MASTHEAD_NO_DEMO")]
    no_demo: bool,
    /// SMTP server for outgoing mail, e.g. smtp://user:pass@mail.example:587?tls=required.
    #[arg(long, env = "MASTHEAD_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender of outgoing mail.
    #[arg(
        long,
        env = "MASTHEAD_MAIL_FROM",
        default_value = "Masthead <no-reply@localhost>"
    )]
    mail_from: String,
    /// Newsletter messages per second this server hands to the relay
    /// (0: as fast as the relay takes them). Set it to your relay's quota.
    #[arg(long, env = "MASTHEAD_MAIL_RATE", default_value_t = 0)]
    mail_rate: u32,
    /// Newsletter messages in flight at once (SMTP connections kept open), 1-16.
    #[arg(long, env = "MASTHEAD_MAIL_CONNECTIONS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    mail_connections: u32,
    /// The site's public address (e.g. https://news.example): every absolute
    /// link (pages, feeds, sitemaps, e-mail, API and webhook bodies) uses it.
    /// Defaults to http:// plus the listen address when that is loopback;
    /// required when listening on any other address.
    #[arg(long, env = "MASTHEAD_PUBLIC_URL")]
    public_url: Option<String>,
    /// Reverse proxies (by IP address, comma-separated) whose X-Forwarded-For
    /// header names the real client, for sign-in throttling.
    #[arg(long, env = "MASTHEAD_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Render every page afresh (for measuring rendering; never in production).
    #[arg(long, env = "MASTHEAD_NO_PAGE_CACHE")]
    no_page_cache: bool,
    /// Let webhooks reach loopback, private and link-local addresses (for an
    /// intranet). Without it, deliveries go only to public addresses.
    #[arg(long, env = "MASTHEAD_ALLOW_PRIVATE_WEBHOOKS")]
    allow_private_webhooks: bool,
    /// Most memory (MiB, all encodings) the page cache holds before it evicts.
    #[arg(
        long,
        env = "MASTHEAD_PAGE_CACHE_MB",
        default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(1..=65_536)
    )]
    page_cache_mb: u32,
    /// Most live-update streams (/_live/…/events) open at once, all readers together.
    #[arg(
        long,
        env = "MASTHEAD_MAX_LIVE_STREAMS",
        default_value_t = masthead_web::throttle::LIVE_STREAMS_TOTAL,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000)
    )]
    max_live_streams: usize,
    /// Stripe secret key (sk_live_…, sk_test_… or a restricted rk_…); wins
    /// over the key set in the desk. Prefer the environment variable: a
    /// flag shows in the process list.
    #[arg(long, env = "MASTHEAD_STRIPE_SECRET_KEY", hide_env_values = true)]
    stripe_secret_key: Option<String>,
    /// Signing secret (whsec_…) of the Stripe webhook endpoint
    /// /members/webhooks/stripe/; wins over the one set in the desk.
    #[arg(long, env = "MASTHEAD_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    stripe_webhook_secret: Option<String>,
    /// The Stripe API's address (a stand-in such as localstripe for tests).
    #[arg(
        long,
        env = "MASTHEAD_STRIPE_API_BASE",
        default_value = masthead_web::STRIPE_API_BASE
    )]
    stripe_api_base: String,
    /// Sign-up and sign-in e-mails all readers together may ask for in a
    /// minute (each address and each e-mail address has its own, smaller
    /// limit). Raise it for a big membership drive if your relay keeps up.
    #[arg(
        long,
        env = "MASTHEAD_MEMBER_MAIL_PER_MINUTE",
        default_value_t = masthead_web::throttle::MEMBER_MAIL_PER_MINUTE,
        value_parser = clap::value_parser!(u32).range(1..=10_000_000)
    )]
    member_mail_per_minute: u32,
}

#[derive(Subcommand)]
enum LiveCommand {
    /// Add an entry to a live post; open pages show it within a second.
    Add {
        /// Slug of the live post.
        #[arg(long)]
        post: String,
        /// Entry headline.
        #[arg(long)]
        title: String,
        /// Entry text in Markdown; "-" reads it from standard input.
        #[arg(long, default_value = "")]
        body: String,
        /// Show it among the key developments.
        #[arg(long)]
        pinned: bool,
    },
}

/// The demo newsroom's home time zone.
const DEMO_TIMEZONE: &str = "Europe/London";

fn main() -> Result<std::process::ExitCode> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MASTHEAD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        // Colour only for a person at a terminal: escape codes would litter
        // a journal, a file or a log collector.
        .with_writer(std::io::stdout)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    // One malloc arena per core (at least two), set before any thread exists:
    // see masthead-alloc for the measurements behind it.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    masthead_alloc::limit_arenas(cores.max(2));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match runtime.block_on(run(cli)) {
        Ok(()) => Ok(std::process::ExitCode::SUCCESS),
        // A refusal that changed nothing has its own status, for scripts.
        Err(e) => match e.downcast_ref::<copy::Refused>() {
            Some(refused) => {
                eprintln!("{refused}");
                Ok(std::process::ExitCode::from(copy::REFUSED_STATUS))
            }
            None => Err(e),
        },
    }
}

/// The site's database: PostgreSQL when `--database-url` is given,
/// otherwise the SQLite file in the data directory; migrated either way.
async fn open_store(database_url: Option<&str>, data_dir: &Path) -> Result<Store> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    match database_url {
        Some(url) => {
            let Some(place) = masthead_store::describe_postgres_url(url) else {
                bail!(
                    "--database-url (MASTHEAD_DATABASE_URL) is not a PostgreSQL connection URL; \
                     write it as postgres://user:password@host:port/database"
                );
            };
            Store::open_postgres(url).await.with_context(|| {
                format!(
                    "cannot open the PostgreSQL database {place} (--database-url, \
                     MASTHEAD_DATABASE_URL): check that the server is running and reachable \
                     and that the user, password and database name are right"
                )
            })
        }
        None => {
            let db = data_dir.join("masthead.db");
            Store::open_sqlite(&db)
                .with_context(|| format!("cannot open the database {}", db.display()))
        }
    }
}

/// Where the database is, for messages (never a password).
fn database_place(database_url: Option<&str>, data_dir: &Path) -> String {
    match database_url.and_then(masthead_store::describe_postgres_url) {
        Some(place) => format!("PostgreSQL database {place}"),
        None => format!("SQLite database {}", data_dir.join("masthead.db").display()),
    }
}

/// Stripe's settings from the flags or environment, checked (without
/// ever repeating a secret in a message).
fn stripe_env(args: &ServeArgs) -> Result<masthead_web::StripeEnv> {
    use masthead_domain::billing::{is_secret_key, is_webhook_secret};
    let key = match args.stripe_secret_key.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) if is_secret_key(k) => Some(masthead_web::Secret::new(k)),
        Some(_) => bail!(
            "MASTHEAD_STRIPE_SECRET_KEY (--stripe-secret-key) is not a Stripe secret key: \
             it starts sk_live_, sk_test_, rk_live_ or rk_test_ (Stripe dashboard, Developers, API keys)"
        ),
    };
    let webhook = match args.stripe_webhook_secret.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) if is_webhook_secret(s) => Some(masthead_web::Secret::new(s)),
        Some(_) => bail!(
            "MASTHEAD_STRIPE_WEBHOOK_SECRET (--stripe-webhook-secret) is not a webhook signing \
             secret: it starts whsec_ (Stripe dashboard, Developers, Webhooks, the endpoint)"
        ),
    };
    let base = args.stripe_api_base.trim().trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        bail!(
            "MASTHEAD_STRIPE_API_BASE (--stripe-api-base) must be an http(s) address, such as https://api.stripe.com"
        );
    }
    Ok(masthead_web::StripeEnv {
        secret_key: key,
        webhook_secret: webhook,
        api_base: base.to_owned(),
    })
}

async fn run(cli: Cli) -> Result<()> {
    let database_url = cli.database_url.clone();
    let db_url = database_url.as_deref();
    match cli.command {
        Command::Serve(args) => serve(&cli.data_dir, cli.media_url.as_deref(), db_url, args).await,
        Command::Migrate => {
            let store = open_store(db_url, &cli.data_dir).await?;
            let version = store.schema_version().await?;
            println!(
                "{} ({}) is up to date: schema version {version}.",
                database_place(db_url, &cli.data_dir),
                store.backend_kind().name()
            );
            Ok(())
        }
        Command::Seed { bench } => {
            let store = open_store(db_url, &cli.data_dir).await?;
            if store.post_count().await? > 0 {
                bail!(
                    "{} already has posts; seeding only fills an empty site (use a new {})",
                    database_place(db_url, &cli.data_dir),
                    if db_url.is_some() {
                        "database"
                    } else {
                        "--data-dir"
                    }
                );
            }
            match bench {
                Some(n) => {
                    // Benchmarks show the video posts' player, so ship the clips too.
                    demo::write_media(&cli.data_dir.join("content"))?;
                    bench_seed::seed(
                        &store,
                        &cli.data_dir.join("content"),
                        n,
                        masthead_store::now_ms(),
                    )
                    .await?
                }
                None => seed_demo(&store, &cli.data_dir).await?,
            }
            Ok(())
        }
        Command::User(UserCommand::Add {
            email,
            name,
            role,
            password_stdin: _,
        }) => {
            let store = open_store(db_url, &cli.data_dir).await?;
            let email = masthead_domain::Email::parse(&email)
                .map_err(|e| anyhow::anyhow!("--email: {e}"))?;
            let role = masthead_domain::Role::parse(&role).map_err(|_| {
                anyhow::anyhow!(
                    "--role must be one of contributor, author, editor, administrator, owner"
                )
            })?;
            let name = masthead_domain::editorial::staff_name(&name)
                .map_err(|e| anyhow::anyhow!("--name: {e}"))?
                .to_owned();
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']);
            let hash = masthead_web::auth::hash_password(password)
                .map_err(|e| anyhow::anyhow!("password: {e}"))?;
            let new = masthead_store::NewStaffUser {
                email: email.clone(),
                name,
                role,
                password_hash: hash,
                author_id: None,
            };
            let id = store.create_staff_user(new).await?;
            println!(
                "Created {} account {id} for {}.",
                role.as_str(),
                email.as_str()
            );
            Ok(())
        }
        Command::Import(ImportCommand::Ghost { file }) => {
            let store = open_store(db_url, &cli.data_dir).await?;
            let report = ghost::import(&store, &file).await?;
            report.print(&file.display().to_string());
            Ok(())
        }
        Command::Copy { to, replace } => copy::run(db_url, &cli.data_dir, &to, replace).await,
        Command::Export { output } => {
            let store = open_store(db_url, &cli.data_dir).await?;
            eprintln!("Exporting...");
            let doc = ghost::export(&store).await?;
            let text = serde_json::to_string_pretty(&doc)?;
            match output {
                Some(path) => {
                    let tmp = path.with_extension("partial");
                    std::fs::write(&tmp, text.as_bytes())
                        .with_context(|| format!("cannot write {}", tmp.display()))?;
                    std::fs::rename(&tmp, &path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    let posts = doc["db"][0]["data"]["posts"].as_array().map_or(0, Vec::len);
                    eprintln!("Wrote {} ({posts} posts and pages).", path.display());
                }
                None => println!("{text}"),
            }
            Ok(())
        }
        Command::Backup { output } => {
            if db_url.is_some() {
                bail!("{}", masthead_store::PG_BACKUP);
            }
            if !cli.data_dir.join("masthead.db").is_file() {
                bail!(
                    "{} holds no Masthead site to back up",
                    cli.data_dir.display()
                );
            }
            let media = open_media(cli.media_url.as_deref(), &cli.data_dir).await?;
            let store = open_store(db_url, &cli.data_dir).await?;
            let started = std::time::Instant::now();
            let r = backup::backup(&store, &media, &cli.data_dir, &output).await?;
            eprintln!(
                "Wrote {} ({}) in {:.1} s: the database ({}; {} posts, {} members) and {} files ({}).",
                output.display(),
                backup::megabytes(r.archive_bytes),
                started.elapsed().as_secs_f64(),
                backup::megabytes(r.db_bytes),
                r.posts,
                r.members,
                r.files,
                backup::megabytes(r.file_bytes)
            );
            eprintln!("The media in the archive came from {}.", media.describe());
            Ok(())
        }
        Command::Restore { file, force } => {
            if db_url.is_some() {
                bail!(
                    "masthead restore brings back an archive of the embedded SQLite database; \
                     on PostgreSQL, restore the database with pg_restore or psql: see \
                     docs/operations.md, \"Running on PostgreSQL\""
                );
            }
            // Not checked here: a local directory must not be created
            // before the restore (it needs an empty data directory).
            let media = MediaStore::open(
                cli.media_url.as_deref(),
                cli.data_dir.join("media"),
                S3Credentials::from_env,
            )?;
            let r = backup::restore(&file, &cli.data_dir, &media, force).await?;
            if let Some(old) = &r.replaced {
                eprintln!("The previous data directory is now {}.", old.display());
            }
            eprintln!(
                "Restored {} into {}: {} posts, {} members and {} media items; the database and \
                 {} files ({} in all); integrity check ok, schema version {}.",
                file.display(),
                cli.data_dir.display(),
                r.posts,
                r.members,
                r.media_items,
                r.files,
                backup::megabytes(r.bytes),
                r.schema_version
            );
            if media.local_dir() != Some(cli.data_dir.join("media").as_path()) {
                eprintln!("The media are in {}.", media.describe());
            }
            Ok(())
        }
        Command::Key(KeyCommand::Create { kind, name }) => {
            let kind = match masthead_store::ApiKeyKind::parse(&kind) {
                Some(kind) => kind,
                None => bail!("the key kind must be content or admin, not {kind:?}"),
            };
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 120 {
                bail!("--name must be 1 to 120 characters");
            }
            let store = open_store(db_url, &cli.data_dir).await?;
            let key = masthead_web::api::keys::create(&store, kind, name, None).await?;
            println!("{key}");
            Ok(())
        }
        Command::Live(LiveCommand::Add {
            post,
            title,
            body,
            pinned,
        }) => {
            let store = open_store(db_url, &cli.data_dir).await?;
            let body = if body == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("reading the entry from standard input")?;
                s
            } else {
                body
            };
            masthead_domain::editorial::live_entry(&title, &body)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let post_id = store
                .published_post_id_by_slug(post.clone(), Some(masthead_domain::PostKind::Live))
                .await?
                .with_context(|| format!("no published live post has the slug {post:?}"))?;
            let rendered = render_markdown(&body, false);
            let id = store
                .add_live_entry(NewLiveEntry {
                    post_id,
                    title: title.trim().to_owned(),
                    body_source: body,
                    body_html: rendered.html,
                    pinned,
                    created_ms: masthead_store::now_ms(),
                })
                .await?;
            println!("Added entry {id} to /{post}/.");
            Ok(())
        }
    }
}

async fn seed_demo(store: &Store, data_dir: &Path) -> Result<()> {
    eprintln!("Seeding demo content (The Aldren Courier)...");
    let s = demo::seed(
        store,
        &data_dir.join("content"),
        masthead_store::now_ms(),
        DEMO_TIMEZONE,
    )
    .await?;
    eprintln!(
        "Seeded {} posts, {} live entries, {} authors, {} tags and {} members.",
        s.posts, s.live_entries, s.authors, s.tags, s.members
    );
    Ok(())
}

async fn serve(
    data_dir: &Path,
    media_url: Option<&str>,
    db_url: Option<&str>,
    args: ServeArgs,
) -> Result<()> {
    // Settle the public address before anything is created: links must
    // never come from a request's Host header.
    let public_url = match args.public_url.as_deref() {
        Some(raw) => Some(
            PublicUrl::parse(raw)
                .map_err(|e| anyhow::anyhow!("--public-url (MASTHEAD_PUBLIC_URL) {raw:?} {e}"))?,
        ),
        None if args.addr.ip().is_loopback() => None,
        None => bail!(
            "listening on {}, which is not a loopback address, needs the site's public address \
             for its links: set --public-url or MASTHEAD_PUBLIC_URL (e.g. https://news.example)",
            args.addr
        ),
    };
    let media = open_media(media_url, data_dir).await?;
    let store = open_store(db_url, data_dir).await?;
    let fresh = store.site_settings_raw("initialised_at").await?.is_none()
        && store.post_count().await? == 0;
    if fresh && !args.no_demo {
        seed_demo(&store, data_dir).await?;
    } else if fresh {
        store
            .set_setting("initialised_at", &masthead_store::now_ms().to_string())
            .await?;
    }
    let theme = Theme::load(args.theme_dir.as_deref()).context("loading the theme")?;
    let content_dir = data_dir.join("content");
    std::fs::create_dir_all(&content_dir)?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another server using it? Use --addr to pick another",
                args.addr
            )
        })?;
    let addr = listener.local_addr()?;
    // The bound address, not the asked-for one: port 0 picks a free port.
    let public_url = public_url.unwrap_or_else(|| PublicUrl::for_listener(addr));
    let mailer = match &args.smtp_url {
        Some(url) => Some(
            masthead_web::mail::Mailer::new(url, &args.mail_from)
                .map_err(|e| anyhow::anyhow!("--smtp-url/--mail-from: {e}"))?,
        ),
        None => None,
    };
    if mailer.is_none() {
        say(&format!(
            "No --smtp-url: members' e-mails (confirmations, sign-in links) are written to {} instead of being sent",
            data_dir.join("outbox").display()
        ));
    }
    let stripe = stripe_env(&args)?;
    let state = AppState::new(
        store,
        theme,
        WebConfig {
            page_size: 20,
            content_dir,
            media,
            page_cache: !args.no_page_cache,
            postbox: match &mailer {
                Some(m) => masthead_web::mail::Postbox::Smtp(m.clone()),
                None => {
                    masthead_web::mail::Postbox::outbox(data_dir.join("outbox"), &args.mail_from)
                        .map_err(|e| anyhow::anyhow!("{e}"))?
                }
            },
            mailer,
            public_url,
            trusted_proxies: args.trusted_proxy.clone(),
            allow_private_webhooks: args.allow_private_webhooks,
            mail_rate: args.mail_rate,
            mail_connections: args.mail_connections,
            stripe,
            limits: masthead_web::throttle::ServerLimits {
                live_streams_total: args.max_live_streams,
                page_cache_bytes: (args.page_cache_mb as usize).saturating_mul(1024 * 1024),
                member_mail_per_minute: args.member_mail_per_minute,
                ..Default::default()
            },
        },
    )
    .await?;
    let shutdown = shutdown_signal()?;
    let title = state.site().settings.title.clone();
    say(&format!(
        "Masthead is serving {title} at http://{addr}/  (data: {})",
        data_dir.display()
    ));
    if db_url.is_some() {
        say(&format!("Database: {}", database_place(db_url, data_dir)));
    }
    if state.config.media.local_dir().is_none() {
        say(&format!("Media go to {}", state.config.media.describe()));
    }
    if state.public_url() != format!("http://{addr}") {
        say(&format!("Links point to {}/", state.public_url()));
    }
    if let Some(path) = masthead_web::admin::setup_link_if_needed(&state).await? {
        say(&format!(
            "No owner account yet. Create it here (the link works once, for 24 hours): {}{path}",
            state.public_url()
        ));
    }
    // Freed memory goes back to the system every few seconds, so resident
    // memory follows what the server holds rather than its busiest moment.
    tokio::spawn(async {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let _ = tokio::task::spawn_blocking(masthead_alloc::trim).await;
        }
    });
    masthead_web::serve(listener, state, shutdown).await?;
    say("Masthead stopped.");
    Ok(())
}

/// The media store `--media-url` names (default: `DATA_DIR/media`), checked
/// to be usable before anything is served.
async fn open_media(url: Option<&str>, data_dir: &Path) -> Result<MediaStore> {
    let media = MediaStore::open(url, data_dir.join("media"), S3Credentials::from_env)?;
    media.check().await.with_context(|| {
        format!(
            "the media store (--media-url, MASTHEAD_MEDIA_URL) is not usable: {}",
            media.describe()
        )
    })?;
    Ok(media)
}

/// Prints a line for the operator; a closed stdout (a supervisor that stopped
/// reading) must not bring the server down.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Listens for SIGTERM and SIGINT from the moment it is called (before the
/// server says it is ready), and resolves when either arrives.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    })
}
