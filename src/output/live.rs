//! The live view: while a run goes, a `ratatui` panel under the prompt (the settings first; per
//! strategy its state; for the one running, progress with ETA, in flight, outcome counts, rate
//! sparklines over the last minute, live percentiles, TTFT/ITL, the adaptive limit), or plain
//! progress lines on stderr when stdout is not a terminal. It reads the run's [`Board`] from a
//! thread of its own at 10 Hz; the run never waits on it, and the thread's CPU time is left out
//! of the strategies' client CPU (it says how much on the board).

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ratatui::backend::{Backend, ClearType, CrosstermBackend};
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph, Sparkline};
use ratatui::{Frame, Terminal, TerminalOptions, Viewport};

use crate::model::strategy::Strategy;
use crate::stats::live::{Board, Counts, Group, Lane, Snapshot};

/// How often the panel is drawn.
const FRAME: Duration = Duration::from_millis(100);
/// Seconds of rate history kept for the sparklines.
const HISTORY: usize = 60;
/// Seconds of the recent window whose percentiles the running lane shows beside the whole
/// run's.
const WINDOW: usize = 10;

/// Where the live view goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The panel, on stdout (a terminal); progress lines this often if it cannot be drawn.
    Panel(Duration),
    /// A progress line on stderr this often (`--progress-every`).
    Lines(Duration),
    /// Nothing (`-q`).
    Off,
}

impl Mode {
    /// The panel when stdout is a terminal that can draw one, unless `--no-tui` (then lines) or
    /// `-q` (then nothing); lines when stdout is a pipe or a file.
    pub(crate) fn choose(quiet: bool, no_tui: bool, every: Duration) -> Mode {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        if quiet {
            Mode::Off
        } else if no_tui || dumb || !std::io::stdout().is_terminal() {
            Mode::Lines(every)
        } else {
            Mode::Panel(every)
        }
    }
}

/// The view's thread, drawing `board` until [`View::finish`].
#[derive(Debug)]
pub(crate) struct View {
    board: Arc<Board>,
    thread: Option<JoinHandle<()>>,
}

impl View {
    /// Starts drawing `board` as `mode` says.
    pub(crate) fn start(board: Arc<Board>, mode: Mode) -> View {
        let b = board.clone();
        let thread = match mode {
            Mode::Off => None,
            Mode::Panel(every) => std::thread::Builder::new()
                .name("asyncbench-view".into())
                .spawn(move || {
                    // A terminal that cannot draw the panel (it never answers where its
                    // cursor is, or a write fails) gets its cursor back and the lines.
                    if panel(&b).is_err() {
                        crate::engine::stop::show_cursor();
                        lines(&b, every);
                    }
                    b.gone();
                })
                .ok(),
            Mode::Lines(every) => std::thread::Builder::new()
                .name("asyncbench-view".into())
                .spawn(move || {
                    lines(&b, every);
                    b.gone();
                })
                .ok(),
        };
        View { board, thread }
    }

    /// The run has ended: the panel is cleared (the table takes its place) and the thread joined.
    pub(crate) fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.board.finish();
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        // What the panel held back (the lines print theirs as they come).
        for line in self.board.take_said() {
            eprintln!("{line}");
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Requests per second over the last minute, one sample a second: started, succeeded, 429
/// answers; and the lane's latency, TTFT and ITL histograms as they stood each second of the
/// last [`WINDOW`], for the recent window's percentiles.
#[derive(Debug, Default)]
struct Rates {
    /// The lane sampled (its strategy and round): a new lane starts a new history.
    of: Option<(Strategy, u32)>,
    last: Counts,
    at: Option<Instant>,
    sent: VecDeque<u64>,
    ok: VecDeque<u64>,
    limited: VecDeque<u64>,
    /// When each was taken, and the latency, TTFT and ITL histograms then, oldest first.
    window: VecDeque<(Instant, [Snapshot; 3])>,
}

impl Rates {
    /// Takes a sample when a second has passed since the last one (`now`).
    fn sample(&mut self, lane: &Lane, now: Instant) {
        let key = Some((lane.strategy, lane.round));
        let histograms = || (now, [&lane.e2e, &lane.ttft, &lane.itl].map(|h| h.snapshot()));
        if self.of != key {
            *self = Rates {
                of: key,
                at: Some(now),
                window: VecDeque::from([histograms()]),
                ..Rates::default()
            };
            return;
        }
        if self
            .at
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.window.push_back(histograms());
        if self.window.len() > WINDOW {
            self.window.pop_front();
        }
        let counts = lane.counts();
        for (q, v) in [
            (&mut self.sent, counts.started.saturating_sub(self.last.started)),
            (
                &mut self.ok,
                counts.of(Group::Ok).saturating_sub(self.last.of(Group::Ok)),
            ),
            (
                &mut self.limited,
                counts.answers_429.saturating_sub(self.last.answers_429),
            ),
        ] {
            q.push_back(v);
            if q.len() > HISTORY {
                q.pop_front();
            }
        }
        self.last = counts;
        self.at = Some(now);
    }
}

/// The lane running now: the last one started, unless it has ended.
fn current(lanes: &[Arc<Lane>]) -> Option<&Arc<Lane>> {
    lanes.last().filter(|l| !l.is_ended())
}

/// The strategies in the order they first run, with how many rounds each has.
fn strategies(board: &Board) -> Vec<(Strategy, u32)> {
    let mut out: Vec<(Strategy, u32)> = Vec::new();
    for step in &board.plan {
        match out.iter_mut().find(|(s, _)| *s == step.strategy) {
            Some((_, n)) => *n = (*n).max(step.round),
            None => out.push((step.strategy, step.round)),
        }
    }
    out
}

/// Draws the panel until the board is finished, then clears it.
fn panel(board: &Board) -> std::io::Result<()> {
    let rows = strategies(board).len() as u16;
    let height = board.header.len() as u16 + u16::from(board.position.is_some()) + rows + 6;
    let backend = CrosstermBackend::new(std::io::stdout());
    let term = Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Inline(height),
        },
    )?;
    let mut screen = Screen {
        term,
        rates: Rates::default(),
    };
    let mut top;
    loop {
        let done = board.is_done();
        top = screen.draw(board)?;
        board.set_view_cpu(thread_cpu());
        if done {
            break;
        }
        std::thread::park_timeout(FRAME);
    }
    let term = &mut screen.term;
    if board.is_kept() {
        // No table comes (a second signal): the last frame stays, what follows goes under it.
        term.set_cursor_position(Position::new(0, top + height - 1))?;
        term.backend_mut().write_all(b"\n")?;
    } else {
        // The table printed next takes the panel's place (without asking the terminal where
        // its cursor is, as `Terminal::clear` would: the panel knows where it starts).
        term.set_cursor_position(Position::new(0, top))?;
        term.backend_mut().clear_region(ClearType::AfterCursor)?;
    }
    term.show_cursor()?;
    std::io::stdout().flush()
}

/// A duration as the table writes latencies: ms with one decimal below 10 s, else seconds.
fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10_000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// A time left or taken, in whole seconds above a minute.
fn clock(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let s = s as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// `p50 … · p90 … · p99 …` of a lane histogram, or `None` before anything was counted.
fn percentiles(h: &crate::stats::live::AtomicHistogram) -> Option<String> {
    let [p50, p90, p99] = h.quantiles([0.5, 0.9, 0.99])?;
    Some(format!("p50 {} · p90 {} · p99 {}", ms(p50), ms(p90), ms(p99)))
}

/// `p50 … · p99 …` of what `h` counted since `snap`, `None` when it counted nothing since.
fn since(h: &crate::stats::live::AtomicHistogram, snap: &Snapshot) -> Option<String> {
    let [p50, p99] = h.quantiles_since(snap, [0.5, 0.99])?;
    Some(format!("p50 {} · p99 {}", ms(p50), ms(p99)))
}

/// The outcome counts of a lane: `ok N · 429 N · 5xx N · other N`.
fn outcomes(c: &Counts) -> String {
    format!(
        "ok {} · 429 {} · 5xx {} · other {}",
        c.of(Group::Ok),
        c.of(Group::RateLimited),
        c.of(Group::ServerError),
        c.of(Group::Other)
    )
}

/// Progress: `64/150 (43 %)`, or `64 requests` when time alone bounds it.
fn progress(lane: &Lane, c: &Counts) -> String {
    match lane.total {
        Some(t) if t > 0 => format!(
            "{}/{t} ({:.0} %)",
            c.finished,
            c.finished as f64 * 100.0 / t as f64
        ),
        _ => format!("{} requests", c.finished),
    }
}

/// Succeeded per second since the lane started.
fn ok_rate(lane: &Lane, c: &Counts) -> String {
    let s = lane.elapsed().as_secs_f64();
    if s > 0.0 {
        format!("{:.1} ok/s", c.of(Group::Ok) as f64 / s)
    } else {
        "—".into()
    }
}

/// The progress of a running lane (after its name), for both the panel and the plain lines.
fn running_line(lane: &Lane, c: &Counts, rounds: u32) -> String {
    let round = if rounds > 1 {
        format!("round {}/{rounds}: ", lane.round)
    } else {
        String::new()
    };
    let mut line = format!(
        "{round}{}, {}, ETA {}",
        progress(lane, c),
        clock(lane.elapsed()),
        lane.eta().map_or("—".into(), clock)
    );
    if lane.counts_starts {
        line.push_str(&format!(", in flight {}", c.started.saturating_sub(c.finished)));
    }
    if let Some(l) = lane.limit() {
        line.push_str(&format!(", limit {l:.1}"));
    }
    line
}

/// The panel on a terminal `B`, with the rate history its sparklines draw from.
struct Screen<B: ratatui::backend::Backend> {
    term: Terminal<B>,
    rates: Rates,
}

impl<B: ratatui::backend::Backend> Screen<B> {
    /// Draws one frame of `board` as it stands; returns the row the panel starts at.
    fn draw(&mut self, board: &Board) -> Result<u16, B::Error> {
        let lanes = board.lanes();
        if let Some(l) = current(&lanes) {
            self.rates.sample(l, Instant::now());
        }
        let rates = &self.rates;
        let mut top = 0;
        self.term.draw(|f| {
            top = f.area().y;
            render(f, board, &lanes, rates);
        })?;
        Ok(top)
    }
}

/// The panel drawn off screen, frame after frame into the same buffers, as the view's thread
/// draws it on a terminal (the tests read it; the `live` bench times [`OffScreen::draw`]).
pub struct OffScreen {
    screen: Screen<ratatui::backend::TestBackend>,
    width: u16,
}

impl std::fmt::Debug for OffScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffScreen").field("width", &self.width).finish()
    }
}

impl OffScreen {
    /// A `width` × `height` screen.
    pub fn new(width: u16, height: u16) -> OffScreen {
        let Ok(term) = Terminal::new(ratatui::backend::TestBackend::new(width, height));
        OffScreen {
            screen: Screen {
                term,
                rates: Rates::default(),
            },
            width,
        }
    }

    /// Draws one frame of `board` as it stands.
    pub fn draw(&mut self, board: &Board) {
        let Ok(_) = self.screen.draw(board);
    }

    /// The screen as text, a line per row.
    pub fn text(&self) -> String {
        self.screen
            .term
            .backend()
            .buffer()
            .content()
            .chunks(usize::from(self.width))
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
            .collect()
    }
}

/// One frame of the panel for `board`, drawn off screen, as text.
#[cfg(test)]
pub(crate) fn snapshot(board: &Board, width: u16, height: u16) -> String {
    let mut screen = OffScreen::new(width, height);
    screen.draw(board);
    screen.text()
}

fn render(f: &mut Frame, board: &Board, lanes: &[Arc<Lane>], rates: &Rates) {
    let plan = strategies(board);
    let area = f.area();
    let rows = Layout::vertical([
        Constraint::Length(board.header.len() as u16 + u16::from(board.position.is_some())),
        Constraint::Length(plan.len() as u16),
        Constraint::Length(6),
    ])
    .split(area);
    let dim = Style::default().fg(Color::DarkGray);
    let mut head: Vec<Line> = board
        .header
        .iter()
        .map(|h| Line::styled(h.clone(), dim))
        .collect();
    if let Some(p) = &board.position {
        head.push(Line::styled(
            p.clone(),
            Style::default().add_modifier(Modifier::BOLD),
        ));
    }
    f.render_widget(Paragraph::new(head), rows[0]);
    let running = current(lanes);
    let list: Vec<Line> = plan
        .iter()
        .map(|(s, rounds)| strategy_row(*s, *rounds, lanes, running))
        .collect();
    f.render_widget(Paragraph::new(list), rows[1]);
    if let Some(lane) = running {
        let rounds = plan.iter().find(|(s, _)| *s == lane.strategy).map_or(1, |p| p.1);
        detail(f, rows[2], lane, rounds, rates);
    }
    let last = Rect {
        y: rows[2].y + rows[2].height.saturating_sub(1),
        height: rows[2].height.min(1),
        ..rows[2]
    };
    stopping(f, last, board, running);
}

/// One line per strategy: waiting, running, or its last round's figures.
fn strategy_row(s: Strategy, rounds: u32, lanes: &[Arc<Lane>], running: Option<&Arc<Lane>>) -> Line<'static> {
    let mine: Vec<&Arc<Lane>> = lanes.iter().filter(|l| l.strategy == s).collect();
    let name = format!("{:<14}", s.id());
    let Some(last) = mine.last() else {
        return Line::from(vec![
            Span::raw("  "),
            Span::raw(name),
            Span::styled("waiting", Style::default().fg(Color::DarkGray)),
        ]);
    };
    let is_running = running.is_some_and(|r| Arc::ptr_eq(r, last));
    let c = last.counts();
    let state = if last.failure().is_some() {
        if rounds > 1 {
            format!("round {}/{rounds} failed", last.round)
        } else {
            "failed".to_owned()
        }
    } else if is_running {
        format!("round {}/{rounds} running", last.round)
    } else if (last.round as usize) < rounds as usize {
        format!("round {}/{rounds} done", last.round)
    } else {
        "done".to_owned()
    };
    let failed = c.finished - c.of(Group::Ok);
    let latency = match last.failure() {
        Some(why) => Span::styled(format!("FAILED: {why}"), Style::default().fg(Color::Red)),
        None => Span::raw(
            last.summary()
                .map_or(String::new(), |[a, b]| format!("p50 {} · p99 {}", ms(a), ms(b))),
        ),
    };
    let marker = if is_running { "▶ " } else { "  " };
    let style = if failed > 0 {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default()
    };
    Line::from(vec![
        Span::styled(marker, Style::default().fg(Color::Cyan)),
        Span::styled(name, Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(format!("{state:<18}")),
        Span::styled(format!("{:<12}", format!("{} done", c.finished)), style),
        Span::styled(format!("{:<10}", format!("{failed} failed")), style),
        Span::raw(format!("{:<14}", ok_rate(last, &c))),
        latency,
    ])
}

/// The running lane: gauge and ETA, counts, sparklines, percentiles.
fn detail(f: &mut Frame, area: Rect, lane: &Lane, rounds: u32, rates: &Rates) {
    let c = lane.counts();
    let rows = Layout::vertical([Constraint::Length(1); 6]).split(area);
    let top = Layout::horizontal([Constraint::Length(32), Constraint::Min(10)]).split(rows[0]);
    let ratio = match lane.total {
        Some(t) if t > 0 => (c.finished as f64 / t as f64).clamp(0.0, 1.0),
        _ => lane.duration.map_or(0.0, |d| {
            (lane.elapsed().as_secs_f64() / d.as_secs_f64()).clamp(0.0, 1.0)
        }),
    };
    f.render_widget(
        LineGauge::default()
            .ratio(ratio)
            .filled_style(Style::default().fg(Color::Cyan))
            .label(Span::styled(
                format!("{:<12}", lane.strategy.id()),
                Style::default().add_modifier(Modifier::BOLD),
            )),
        top[0],
    );
    f.render_widget(
        Paragraph::new(format!(" {}", running_line(lane, &c, rounds))),
        top[1],
    );
    let limited = if c.answers_429 > c.of(Group::RateLimited) {
        format!(" ({} 429 answers, retries included)", c.answers_429)
    } else {
        String::new()
    };
    let counts_style = if c.finished > c.of(Group::Ok) {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default().fg(Color::Green)
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw("  "),
            Span::styled(outcomes(&c), counts_style),
            Span::raw(limited),
        ])),
        rows[1],
    );
    sparklines(f, rows[2], rates);
    let e2e = percentiles(&lane.e2e).unwrap_or_else(|| "—".into());
    f.render_widget(Paragraph::new(format!("  latency {e2e}")), rows[3]);
    let mut stream = Vec::new();
    if let Some(t) = percentiles(&lane.ttft) {
        stream.push(format!("TTFT {t}"));
    }
    if let Some(t) = percentiles(&lane.itl) {
        stream.push(format!("ITL {t}"));
    }
    if !stream.is_empty() {
        f.render_widget(Paragraph::new(format!("  {}", stream.join("  ·  "))), rows[4]);
    }
    if let Some(r) = recent(lane, rates) {
        f.render_widget(Paragraph::new(r), rows[5]);
    }
}

/// The percentiles of the recent window (up to [`WINDOW`] seconds: what the whole run's hide
/// once it is long), `None` before its first second: `last 10 s  latency p50 … · p99 …  ·
/// TTFT p99 …  ·  ITL p99 …`, or `no successes` when none came in it.
fn recent(lane: &Lane, rates: &Rates) -> Option<String> {
    let (at, [e2e, ttft, itl]) = rates.window.front()?;
    let secs = at.elapsed().as_secs_f64();
    if secs < 1.0 {
        return None;
    }
    let mut parts = vec![since(&lane.e2e, e2e).map_or("no successes".into(), |p| format!("latency {p}"))];
    for (name, h, base) in [("TTFT", &lane.ttft, ttft), ("ITL", &lane.itl, itl)] {
        if let Some([p99]) = h.quantiles_since(base, [0.99]) {
            parts.push(format!("{name} p99 {}", ms(p99)));
        }
    }
    Some(format!("  last {secs:.0} s  {}", parts.join("  ·  ")))
}

/// The stop's line (a signal came: what happens now), in place of the handler's stderr line;
/// else the running lane's notice (a long wait before a retry), in place of a line on stderr
/// that would break the panel.
fn stopping(f: &mut Frame, area: Rect, board: &Board, running: Option<&Arc<Lane>>) {
    let (note, style) = match board.stopping() {
        Some(note) => (
            note,
            Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ),
        None => match running.and_then(|l| l.notice()) {
            Some(note) => (format!("  {note}"), Style::default().fg(Color::Yellow)),
            None => return,
        },
    };
    // It takes the recent window's row: nothing of that line is left beside it.
    f.render_widget(ratatui::widgets::Clear, area);
    f.render_widget(Paragraph::new(Line::styled(note, style)), area);
}

/// Sent, ok and 429 per second over the last minute, each as a sparkline with its latest value.
fn sparklines(f: &mut Frame, area: Rect, rates: &Rates) {
    let cols = Layout::horizontal([
        Constraint::Length(7),
        Constraint::Length(20),
        Constraint::Length(10),
        Constraint::Length(5),
        Constraint::Length(20),
        Constraint::Length(10),
        Constraint::Length(6),
        Constraint::Length(20),
        Constraint::Length(10),
    ])
    .split(area);
    let series = [
        ("  sent", &rates.sent, Color::Blue),
        (" ok", &rates.ok, Color::Green),
        (" 429", &rates.limited, Color::Red),
    ];
    for (k, (label, q, color)) in series.into_iter().enumerate() {
        let width = cols[3 * k + 1].width as usize;
        let data: Vec<u64> = q.iter().skip(q.len().saturating_sub(width)).copied().collect();
        f.render_widget(Paragraph::new(label), cols[3 * k]);
        f.render_widget(
            Sparkline::default().data(&data).style(Style::default().fg(color)),
            cols[3 * k + 1],
        );
        let now = q.back().map_or("—".into(), |v| format!("{v}/s"));
        f.render_widget(Paragraph::new(format!(" {now}")), cols[3 * k + 2]);
    }
}

/// Without a panel: a line on stderr `every` so long for the lane running, with its outcomes,
/// rate and percentiles.
fn lines(board: &Board, every: Duration) {
    let plan = strategies(board);
    let mut next = Instant::now() + every;
    let mut told = false;
    let mut noticed = Vec::new();
    // The lane of the last line, when it was written, and its latency histogram then: the next
    // line of the same lane gives the percentiles since.
    let mut last: Option<((Strategy, u32), Instant, Snapshot)> = None;
    while !board.is_done() {
        // Awake often enough to say at once that a signal came.
        std::thread::park_timeout(next.saturating_duration_since(Instant::now()).min(FRAME * 2));
        if !told && let Some(note) = board.stopping() {
            eprintln!("asyncbench: {note}");
            told = true;
        }
        for line in board.take_said() {
            eprintln!("{line}");
        }
        // A lane's notice, once, as soon as it is said.
        for lane in board.lanes() {
            let key = (lane.strategy, lane.round);
            if let Some(note) = lane.notice().filter(|_| !noticed.contains(&key)) {
                eprintln!("asyncbench: {note}");
                noticed.push(key);
            }
        }
        if board.is_done() || Instant::now() < next {
            continue;
        }
        next = Instant::now() + every;
        let lanes = board.lanes();
        let Some(lane) = current(&lanes) else { continue };
        let c = lane.counts();
        let rounds = plan.iter().find(|(s, _)| *s == lane.strategy).map_or(1, |p| p.1);
        let latency = percentiles(&lane.e2e).map_or(String::new(), |p| format!("; {p}"));
        let key = (lane.strategy, lane.round);
        let recent = match &last {
            Some((k, at, snap)) if *k == key => {
                let p = since(&lane.e2e, snap).unwrap_or_else(|| "no successes".into());
                format!("; last {}: {p}", clock(at.elapsed()))
            }
            _ => String::new(),
        };
        last = Some((key, Instant::now(), lane.e2e.snapshot()));
        let position = board
            .position
            .as_ref()
            .map_or(String::new(), |p| format!("{p}: "));
        eprintln!(
            "asyncbench: {position}{} {}; {}; {}{latency}{recent}",
            lane.strategy.id(),
            running_line(lane, &c, rounds),
            outcomes(&c),
            ok_rate(lane, &c)
        );
        board.set_view_cpu(thread_cpu());
    }
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec.clamp(0, 999_999_999) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::live::Step;

    fn board() -> Arc<Board> {
        let plan = [Strategy::Sequential, Strategy::Async]
            .into_iter()
            .flat_map(|s| (1..=2).map(move |round| Step { round, strategy: s }))
            .collect();
        Board::new(
            vec!["100 requests · target embedded mock".into()],
            Some("point 2 of 5: concurrency 8".into()),
            plan,
        )
    }

    /// The panel shows the header, the sweep position, every strategy, and the running one's
    /// progress, counts and percentiles.
    #[test]
    fn the_panel_shows_header_strategies_and_the_running_lane() {
        let b = board();
        let done = b.lane(Strategy::Sequential, 1, Some(100), None);
        done.end();
        let lane = b.lane(Strategy::Async, 1, Some(100), None);
        let t = Instant::now();
        for i in 0..40u64 {
            lane.started();
            let outcome = if i % 10 == 0 {
                crate::model::outcome::Outcome::ServerError
            } else {
                crate::model::outcome::Outcome::Ok
            };
            lane.finished(&crate::model::record::Record {
                index: i,
                intended: t,
                start: t,
                end: t + Duration::from_millis(100),
                attempts: Vec::new(),
                backoff: Duration::ZERO,
                outcome,
                status: None,
                sample: None,
            });
        }
        lane.started();
        let screen = snapshot(&b, 120, 12);
        for want in [
            "100 requests · target embedded mock",
            "point 2 of 5: concurrency 8",
            "sequential",
            "round 1/2 done",
            "round 1/2 running",
            "40/100 (40 %)",
            "ETA",
            "in flight 1",
            "ok 36 · 429 0 · 5xx 4 · other 0",
            "latency p50 100.",
        ] {
            assert!(screen.contains(want), "{want:?} not in\n{screen}");
        }
    }

    /// Beside the whole run's percentiles, the running lane shows the recent window's: after a
    /// slow start (answers of 1 s) the run reads slow, the last seconds (answers of 10 ms)
    /// fast; a window with no success says so.
    #[test]
    fn the_running_lane_shows_the_recent_windows_percentiles() {
        let b = board();
        let lane = b.lane(Strategy::Async, 1, Some(1000), None);
        let t = Instant::now();
        let finish = |ms: u64, n: u64| {
            for i in 0..n {
                lane.started();
                lane.finished(&crate::model::record::Record {
                    index: i,
                    intended: t,
                    start: t,
                    end: t + Duration::from_millis(ms),
                    attempts: Vec::new(),
                    backoff: Duration::ZERO,
                    outcome: crate::model::outcome::Outcome::Ok,
                    status: None,
                    sample: None,
                });
            }
        };
        finish(1000, 500);
        let mut screen = OffScreen::new(120, 12);
        // The window opened five seconds ago; only fast answers came since.
        screen
            .screen
            .rates
            .sample(&lane, Instant::now() - Duration::from_secs(5));
        finish(10, 50);
        screen.draw(&b);
        let text = screen.text();
        let [all] = lane.e2e.quantiles([0.5]).unwrap();
        assert!(text.contains(&format!("latency p50 {}", ms(all))), "{text}");
        assert!(
            text.contains("last 5 s  latency p50 10.0 ms · p99 10.0 ms"),
            "{text}"
        );
        // A window in which nothing succeeded.
        let mut screen = OffScreen::new(120, 12);
        screen
            .screen
            .rates
            .sample(&lane, Instant::now() - Duration::from_secs(3));
        screen.draw(&b);
        assert!(
            screen.text().contains("last 3 s  no successes"),
            "{}",
            screen.text()
        );
    }

    /// `-q` draws nothing; `--no-tui` gives lines whatever stdout is.
    #[test]
    fn quiet_and_no_tui_choose_their_modes() {
        let s = Duration::from_secs(1);
        assert_eq!(Mode::choose(true, false, s), Mode::Off);
        assert_eq!(Mode::choose(true, true, s), Mode::Off);
        assert_eq!(Mode::choose(false, true, s), Mode::Lines(s));
    }
}
