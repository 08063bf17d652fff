//! The embedder against the real files installed by `make setup`: vector shape and meaning,
//! batching, and a setup error (never a panic) for every kind of missing or wrong file; and
//! the token counter on the same tokenizer.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::{Context, Result, bail};
use mnemo_core::EmbedError;
use mnemo_core::ports::{Embedder, TokenCounter};
use mnemo_fastembed::{
    DIMENSION, EmbedConfig, FastEmbedder, MODEL_NAME, SETUP_COMMAND, TokenizerCounter,
};

fn repo_config() -> EmbedConfig {
    EmbedConfig::repo_default(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// One embedder for the whole test binary: ONNX Runtime is loaded once per process anyway.
fn embedder() -> Result<&'static FastEmbedder> {
    static EMBEDDER: LazyLock<Result<FastEmbedder, String>> =
        LazyLock::new(|| FastEmbedder::load(&repo_config()).map_err(|err| err.to_string()));
    EMBEDDER
        .as_ref()
        .map_err(|err| anyhow::anyhow!("loading the real model failed: {err}"))
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|text| text.to_string()).collect()
}

async fn embed_one(embedder: &FastEmbedder, text: &str) -> Result<Vec<f32>> {
    let mut vectors = embedder.embed(vec![text.to_string()]).await?;
    vectors.pop().context("no vector returned")
}

/// Cosine similarity; the vectors are unit length, so this is their dot product.
fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[tokio::test]
async fn vectors_are_384_long_unit_length_and_deterministic() -> Result<()> {
    let embedder = embedder()?;
    assert_eq!(embedder.dimension(), DIMENSION);
    assert_eq!(embedder.dimension(), 384);
    assert_eq!(embedder.model_name(), MODEL_NAME);
    assert_eq!(embedder.model_name(), "all-MiniLM-L6-v2");

    let long = "memory graphs keep facts over time ".repeat(200);
    let texts = strings(&[
        "The cat sat on the mat",
        "",
        "Alice moved from Boston to San Francisco in March 2024.",
        "Zoë's café serves crème brûlée — 東京 too",
        &long,
    ]);
    let first = embedder.embed(texts.clone()).await?;
    let second = embedder.embed(texts.clone()).await?;
    assert_eq!(first.len(), texts.len());
    for (text, vector) in texts.iter().zip(&first) {
        let short: String = text.chars().take(30).collect();
        assert_eq!(vector.len(), 384, "length for {short:?}");
        assert!((norm(vector) - 1.0).abs() < 1e-4, "norm for {short:?}");
        assert!(vector.iter().all(|x| x.is_finite()), "finite for {short:?}");
    }
    assert_eq!(first, second, "same texts, same vectors");
    Ok(())
}

#[tokio::test]
async fn similar_sentences_are_closer_than_unrelated_ones() -> Result<()> {
    let embedder = embedder()?;
    async fn check(embedder: &FastEmbedder, anchor: &str, near: &str, far: &str) -> Result<()> {
        let [a, n, f] = [anchor, near, far].map(|text| embed_one(embedder, text));
        let (a, n, f) = (a.await?, n.await?, f.await?);
        let (near_sim, far_sim) = (cosine(&a, &n), cosine(&a, &f));
        if near_sim <= far_sim + 0.1 {
            bail!(
                "{anchor:?}: {near:?} scored {near_sim:.3}, {far:?} scored {far_sim:.3}; expected the first clearly higher"
            );
        }
        Ok(())
    }
    check(
        embedder,
        "The cat sat on the mat",
        "A kitten was sitting on a rug",
        "Stock markets fell sharply today",
    )
    .await?;
    check(
        embedder,
        "Alice lives in San Francisco",
        "Alice's home is in SF, California",
        "Bob plays the violin",
    )
    .await?;
    check(
        embedder,
        "Where does Alice work?",
        "Alice works at Acme Corp",
        "The weather is sunny in Paris",
    )
    .await?;
    check(
        embedder,
        "I am vegetarian",
        "I don't eat meat",
        "My car needs new tyres",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn batches_larger_than_64_keep_their_order() -> Result<()> {
    let embedder = embedder()?;
    let topics = ["cooking", "football", "taxes", "astronomy", "gardening"];
    let texts: Vec<String> = (0..150)
        .map(|i| {
            let topic = topics[i % topics.len()];
            format!(
                "Note {i}: a {} sentence about {topic}",
                "short ".repeat(i % 7)
            )
        })
        .collect();
    let batched = embedder.embed(texts.clone()).await?;
    assert_eq!(batched.len(), texts.len());

    let mut singles = Vec::with_capacity(texts.len());
    for text in &texts {
        singles.push(embed_one(embedder, text).await?);
    }
    for (i, vector) in batched.iter().enumerate() {
        // Padding in a batch changes the float arithmetic slightly, not the meaning.
        let same = cosine(vector, &singles[i]);
        assert!(same > 0.9999, "text {i}: batched vs single cosine {same}");
        let nearest = (0..singles.len())
            .max_by(|&a, &b| cosine(vector, &singles[a]).total_cmp(&cosine(vector, &singles[b])));
        assert_eq!(
            nearest,
            Some(i),
            "batched vector {i} is closest to another text"
        );
    }
    Ok(())
}

/// A text past the model's window embeds like its first part: what is cut was never read
/// (the model sees 256 tokens), so cutting before tokenizing changes nothing but cost.
#[tokio::test]
async fn a_huge_text_embeds_like_its_first_part() -> Result<()> {
    let embedder = embedder()?;
    let sentence = "Alice moved to Lisbon in March and plays the cello on weekends. ";
    let huge = sentence.repeat(30_000);
    assert!(huge.len() > 1_900_000);
    let head = mnemo_fastembed::embedded_part(&huge);
    assert_eq!(head.chars().count(), mnemo_fastembed::MAX_EMBEDDED_CHARS);
    let whole = embed_one(embedder, &huge).await?;
    let first_part = embed_one(embedder, head).await?;
    let similarity = cosine(&whole, &first_part);
    assert!(similarity > 0.9999, "cosine {similarity}");
    // Multi-byte text is cut on a character boundary.
    let accents = "é".repeat(mnemo_fastembed::MAX_EMBEDDED_CHARS + 7);
    assert_eq!(
        mnemo_fastembed::embedded_part(&accents).chars().count(),
        mnemo_fastembed::MAX_EMBEDDED_CHARS
    );
    assert_eq!(mnemo_fastembed::embedded_part("short"), "short");
    Ok(())
}

#[tokio::test]
async fn empty_input_gives_empty_output() -> Result<()> {
    assert_eq!(embedder()?.embed(Vec::new()).await?, Vec::<Vec<f32>>::new());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_each_get_their_own_vectors() -> Result<()> {
    let embedder = embedder()?;
    let requests: Vec<Vec<String>> = (0..4)
        .map(|r| (0..70).map(|i| format!("request {r} text {i}")).collect())
        .collect();
    let tasks: Vec<_> = requests
        .iter()
        .map(|texts| tokio::spawn(embedder.embed(texts.clone())))
        .collect();
    for (texts, task) in requests.iter().zip(tasks) {
        let concurrent = task.await??;
        let alone = embedder.embed(texts.clone()).await?;
        assert_eq!(concurrent, alone, "request starting with {:?}", texts[0]);
    }
    Ok(())
}

#[tokio::test]
async fn loading_again_in_the_same_process_reuses_the_runtime() -> Result<()> {
    let shared = embedder()?;
    let again = FastEmbedder::load(&repo_config())?;
    let text = "Alice moved to Berlin";
    assert_eq!(
        embed_one(&again, text).await?,
        embed_one(shared, text).await?
    );
    Ok(())
}

#[test]
fn another_library_after_the_first_load_is_refused() -> Result<()> {
    embedder()?;
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("libonnxruntime.so.1.24.4");
    std::fs::copy(&repo_config().ort_dylib_path, &copy)?;
    let config = EmbedConfig {
        ort_dylib_path: copy,
        ..repo_config()
    };
    let message = setup_error(&config)?;
    assert!(message.contains("already loaded"), "{message}");
    Ok(())
}

/// Loads `config` and returns the message of the `Setup` error it must fail with.
fn setup_error(config: &EmbedConfig) -> Result<String> {
    match FastEmbedder::load(config) {
        Ok(_) => bail!("loading {config:?} succeeded; expected a setup error"),
        Err(EmbedError::Setup(message)) => Ok(message),
        Err(other) => bail!("expected a setup error, got {other:?}"),
    }
}

/// A setup error that names the setup command and contains each of `expected`.
fn check(config: &EmbedConfig, expected: &[&str]) -> Result<()> {
    let message = setup_error(config)?;
    for part in expected.iter().chain([&SETUP_COMMAND]) {
        if !message.contains(part) {
            bail!("error {message:?} does not mention {part:?}");
        }
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    std::fs::write(path, bytes)?;
    Ok(path.to_path_buf())
}

#[test]
fn a_wrong_or_missing_runtime_library_is_a_setup_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let with_dylib = |ort_dylib_path: PathBuf| EmbedConfig {
        ort_dylib_path,
        ..repo_config()
    };
    let missing = dir.path().join("libonnxruntime.so.1.24.4");
    check(
        &with_dylib(missing),
        &["not found", "libonnxruntime.so.1.24.4"],
    )?;
    let old = write(
        &dir.path().join("libonnxruntime.so.1.19.0"),
        b"not a library",
    )?;
    check(&with_dylib(old), &["1.19.0", "needs 1.24.x"])?;
    let newer = write(
        &dir.path().join("libonnxruntime.so.1.25.1"),
        b"not a library",
    )?;
    check(&with_dylib(newer), &["1.25.1", "needs 1.24.x"])?;
    let unversioned = write(&dir.path().join("libonnxruntime.so"), b"not a library")?;
    check(
        &with_dylib(unversioned),
        &["not a versioned ONNX Runtime library"],
    )?;
    let wrong_link = dir.path().join("libonnxruntime.so.1.24.9");
    symlink(dir.path().join("libonnxruntime.so.1.19.0"), &wrong_link)?;
    check(&with_dylib(wrong_link), &["1.19.0"])?;
    let a_directory = dir.path().join("libonnxruntime.so.1.24.3");
    std::fs::create_dir(&a_directory)?;
    check(&with_dylib(a_directory), &["is not a file"])?;
    let sub = dir.path().join("junk");
    std::fs::create_dir(&sub)?;
    let junk = write(&sub.join("libonnxruntime.so.1.24.4"), b"not a library")?;
    check(&with_dylib(junk), &["not a loadable ONNX Runtime library"])?;
    Ok(())
}

#[test]
fn missing_or_broken_model_files_are_a_setup_error() -> Result<()> {
    let real = repo_config().model_dir;
    let dir = tempfile::tempdir()?;
    let with_model_dir = |model_dir: PathBuf| EmbedConfig {
        model_dir,
        ..repo_config()
    };
    check(
        &with_model_dir(dir.path().join("absent")),
        &["model directory", "absent"],
    )?;

    // A copy of the real directory (as symlinks) with one file left out or replaced.
    let variant = |name: &str, replace: Option<&[u8]>| -> Result<PathBuf> {
        let variant = dir.path().join(format!("{name}-{}", replace.is_some()));
        std::fs::create_dir(&variant)?;
        for file in [
            "model.onnx",
            "tokenizer.json",
            "config.json",
            "special_tokens_map.json",
            "tokenizer_config.json",
        ] {
            match (file == name, replace) {
                (false, _) => symlink(real.canonicalize()?.join(file), variant.join(file))?,
                (true, Some(bytes)) => std::fs::write(variant.join(file), bytes)?,
                (true, None) => {}
            }
        }
        Ok(variant)
    };
    for file in [
        "model.onnx",
        "tokenizer.json",
        "config.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
    ] {
        check(&with_model_dir(variant(file, None)?), &[file])?;
    }
    check(
        &with_model_dir(variant("model.onnx", Some(b"not an onnx model"))?),
        &["cannot load the embedding model"],
    )?;
    check(
        &with_model_dir(variant("tokenizer.json", Some(b"{}"))?),
        &["cannot load the embedding model", "tokenizer.json"],
    )?;
    Ok(())
}

fn token_counter() -> Result<&'static TokenizerCounter> {
    static COUNTER: LazyLock<Result<TokenizerCounter, String>> =
        LazyLock::new(|| TokenizerCounter::load(&repo_config()).map_err(|err| err.to_string()));
    COUNTER
        .as_ref()
        .map_err(|err| anyhow::anyhow!("loading the real tokenizer failed: {err}"))
}

#[test]
fn tokens_are_counted_by_the_models_wordpiece_tokenizer() -> Result<()> {
    let counter = token_counter()?;
    let long = "memory ".repeat(1000);
    let cases: &[(&str, usize)] = &[
        ("", 0),
        ("Alice lives in Lisbon", 4),
        ("Hello, world!", 4),
        ("- Alice LIVES_IN Lisbon [valid 2024-03-01 → now]", 17),
        // Lower-cased, accents stripped: zoe ' s cafe.
        ("Zoë's café", 4),
        // No truncation to the model's 128 positions, no padding.
        (&long, 1000),
    ];
    for (text, expected) in cases {
        let short: String = text.chars().take(40).collect();
        assert_eq!(counter.count(text), *expected, "{short:?}");
    }
    // Lines joined by newlines count as the sum of the lines (the search's budget relies on
    // it).
    let lines = [
        "Relations:",
        "- Acme HEADQUARTERED_IN Berlin (Acme is headquartered in Berlin) [valid ? → now]",
        "Facts:",
        "- Alice is vegetarian [2024-01-10]",
    ];
    let sum: usize = lines.iter().map(|line| counter.count(line)).sum();
    assert_eq!(counter.count(&lines.join("\n")), sum);
    Ok(())
}

#[test]
fn a_missing_tokenizer_is_a_setup_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = EmbedConfig {
        model_dir: dir.path().to_owned(),
        ..repo_config()
    };
    match TokenizerCounter::load(&config) {
        Ok(_) => bail!("loading a tokenizer from an empty folder succeeded"),
        Err(EmbedError::Setup(message)) => {
            assert!(message.contains("tokenizer.json"), "{message}");
            assert!(message.contains(SETUP_COMMAND), "{message}");
        }
        Err(other) => bail!("expected a setup error, got {other:?}"),
    }
    Ok(())
}

/// Past `max_waiting` admitted calls, a call is refused at once with `Overloaded` (the
/// server answers 503), and admitted again once the others finish.
#[tokio::test]
async fn calls_past_max_waiting_are_refused_and_admitted_again_later() -> Result<()> {
    let pool = mnemo_fastembed::PoolConfig {
        sessions: 1,
        max_waiting: 1,
    };
    let embedder = FastEmbedder::load_pool(&repo_config(), pool)?;
    let many: Vec<String> = (0..200).map(|i| format!("sentence number {i}")).collect();
    // `join!` polls the first call first: it is admitted and waits on the blocking pool
    // when the second one asks.
    let (first, second) = tokio::join!(
        embedder.embed(many),
        embedder.embed(strings(&["a short one"]))
    );
    assert_eq!(first?.len(), 200);
    match second {
        Err(EmbedError::Overloaded(message)) => {
            assert!(message.contains("try again"), "{message}")
        }
        other => bail!("expected Overloaded, got {other:?}"),
    }
    let again = embed_one(&embedder, "a short one").await?;
    assert_eq!(again.len(), DIMENSION);
    Ok(())
}

/// Two sessions give the same vectors as one: a text's vector depends neither on the
/// session nor on the threads it ran with (up to float rounding).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_gives_the_same_vectors() -> Result<()> {
    let single = FastEmbedder::load_pool(
        &repo_config(),
        mnemo_fastembed::PoolConfig {
            sessions: 1,
            max_waiting: 8,
        },
    )?;
    let texts = strings(&["Alice moved to Lisbon", "Bob likes jazz", "the weather"]);
    let expected = single.embed(texts.clone()).await?;
    let pooled = embedder()?;
    let calls = (0..6).map(|_| pooled.embed(texts.clone()));
    for got in futures_join_all(calls.collect()).await {
        for (a, b) in got?.iter().zip(&expected) {
            assert!(cosine(a, b) > 0.9999, "cosine {}", cosine(a, b));
        }
    }
    Ok(())
}

/// Runs the futures concurrently on the test's runtime and returns their outputs in order.
async fn futures_join_all<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[test]
fn a_pool_without_sessions_is_a_setup_error() -> Result<()> {
    for pool in [
        mnemo_fastembed::PoolConfig {
            sessions: 0,
            max_waiting: 4,
        },
        mnemo_fastembed::PoolConfig {
            sessions: 1,
            max_waiting: 0,
        },
    ] {
        match FastEmbedder::load_pool(&repo_config(), pool) {
            Err(EmbedError::Setup(message)) => {
                assert!(message.contains("at least one"), "{message}")
            }
            other => bail!("expected a setup error for {pool:?}, got {other:?}"),
        }
    }
    Ok(())
}

/// all-mpnet-base-v2, when `make setup-mpnet` installed it (it is optional: 400 MB of
/// downloads that `make setup` and CI do not fetch); otherwise says so and checks nothing.
#[tokio::test]
async fn mpnet_vectors_are_768_long_and_do_not_depend_on_their_batch() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = EmbedConfig::repo_model(&root, mnemo_fastembed::Model::MpnetBaseV2);
    if !config.model_dir.join("model.onnx").is_file() {
        eprintln!(
            "skipped: all-mpnet-base-v2 is not installed in {} (run `make setup-mpnet`)",
            config.model_dir.display()
        );
        return Ok(());
    }
    let embedder = FastEmbedder::load(&config)?;
    assert_eq!(embedder.dimension(), 768);
    assert_eq!(embedder.model_name(), "all-mpnet-base-v2");
    let short = "I play the cello";
    let long =
        "Yesterday we drove all the way to the coast and saw whales near the old lighthouse. "
            .repeat(4);
    let alone = embed_one(&embedder, short).await?;
    let batched = embedder.embed(strings(&[&long, short])).await?;
    assert_eq!(alone.len(), 768);
    assert!((norm(&alone) - 1.0).abs() < 1e-4);
    assert!(
        batched[1] == alone,
        "a vector must not depend on its batch: cosine {} to itself alone",
        cosine(&batched[1], &alone)
    );
    let near = embed_one(&embedder, "The cello is my instrument").await?;
    let far = embed_one(&embedder, "Quarterly revenue rose by four percent").await?;
    assert!(cosine(&alone, &near) > cosine(&alone, &far) + 0.2);
    Ok(())
}
