//! Typed commands on the writer's queue.
//!
//! The queue carries commands of every kind; each arrives with the reply channel of its own
//! result type. A [`Job`] applies its command to the batch's transaction and keeps the result
//! as an [`Answer`], sent only once the batch's commit has returned (or failed).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use tokio::sync::oneshot;

use super::tx::RedbTx;
use crate::store::commands::{self, Command, Remembered, Replayable};
use crate::store::replays::ReplayKey;
use crate::store::tx::{TxError, TxResult};
use crate::store::{CommandError, StoreError};

/// A command waiting for the writer.
pub(crate) trait Job: Send {
    /// When the caller stops waiting: a command the writer reaches later is not applied.
    fn deadline(&self) -> Instant;
    /// Whether the command is made for a replay id (the batch then prunes the memory).
    fn remembers(&self) -> bool;
    /// Applies the command inside the batch's transaction.
    fn run(self: Box<Self>, tx: &mut RedbTx<'_>) -> Ran;
    /// The answer of a command whose deadline passed before the writer reached it.
    fn too_late(self: Box<Self>) -> Box<dyn Answer>;
}

/// What applying a command left.
pub(crate) enum Ran {
    /// Applied or refused: the answer waits for the commit.
    Done(Box<dyn Answer>),
    /// Storage failed: the whole batch is abandoned.
    Failed(Box<dyn Answer>, StoreError),
}

/// A command's result, sent to its caller once the commit's fate is known.
pub(crate) trait Answer: Send {
    /// Sends the result if the batch committed, or the commit's error if it did not.
    fn send(self: Box<Self>, committed: Result<(), StoreError>);
}

/// A command as the writer runs it: plain, or made for a replay id.
pub(crate) trait Work: Send + 'static {
    /// Its result.
    type Done: Send + 'static;
    /// Applies it.
    fn run(self, tx: &mut RedbTx<'_>) -> TxResult<Self::Done>;
    /// Whether it is made for a replay id.
    fn remembers(&self) -> bool {
        false
    }
}

/// A command applied as it is.
pub(crate) struct Plain<C>(pub(crate) C);

impl<C: Command> Work for Plain<C> {
    type Done = C::Done;

    fn run(mut self, tx: &mut RedbTx<'_>) -> TxResult<C::Done> {
        at_once(self.0.apply(tx))
    }
}

/// A command made for a replay id, remembered with its result.
pub(crate) struct WithMemo<C> {
    pub(crate) command: C,
    pub(crate) key: ReplayKey,
    /// UTC Unix seconds: the memory's row ages from here.
    pub(crate) at: i64,
}

impl<C: Remembered> Work for WithMemo<C> {
    type Done = Replayable<C::Done>;

    fn run(mut self, tx: &mut RedbTx<'_>) -> TxResult<Self::Done> {
        at_once(commands::apply_remembered(
            &mut self.command,
            tx,
            &self.key,
            self.at,
        ))
    }

    fn remembers(&self) -> bool {
        true
    }
}

/// A queued [`Work`] with its deadline and its caller's channel.
pub(crate) struct Queued<W: Work> {
    pub(crate) work: W,
    pub(crate) deadline: Instant,
    pub(crate) reply: oneshot::Sender<Result<W::Done, CommandError>>,
}

impl<W: Work> Job for Queued<W> {
    fn deadline(&self) -> Instant {
        self.deadline
    }

    fn remembers(&self) -> bool {
        self.work.remembers()
    }

    fn run(self: Box<Self>, tx: &mut RedbTx<'_>) -> Ran {
        let Queued { work, reply, .. } = *self;
        match work.run(tx) {
            Ok(done) => Ran::Done(Box::new(Pending {
                reply,
                result: Ok(done),
            })),
            Err(TxError::Abort(refusal)) => Ran::Done(Box::new(Pending {
                reply,
                result: Err(CommandError::Refused(refusal)),
            })),
            Err(TxError::Db(e)) => Ran::Failed(
                Box::new(Pending {
                    reply,
                    result: Err(CommandError::Store(StoreError::NotStored)),
                }),
                e,
            ),
        }
    }

    fn too_late(self: Box<Self>) -> Box<dyn Answer> {
        Box::new(Pending {
            reply: self.reply,
            result: Err(CommandError::Store(StoreError::TooLate)),
        })
    }
}

/// A result held until the commit.
struct Pending<D> {
    reply: oneshot::Sender<Result<D, CommandError>>,
    result: Result<D, CommandError>,
}

impl<D: Send> Answer for Pending<D> {
    fn send(self: Box<Self>, committed: Result<(), StoreError>) {
        let result = match committed {
            Ok(()) => self.result,
            Err(e) => Err(CommandError::Store(e)),
        };
        // A caller that went away (connection closed) needs no answer.
        let _ = self.reply.send(result);
    }
}

/// Runs a command's future to its end at once: every operation of [`RedbTx`] is ready when
/// called, so the future never waits. One that did would be a bug of this backend, refused
/// rather than spun on.
fn at_once<T>(future: impl Future<Output = TxResult<T>>) -> TxResult<T> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => Err(TxError::Db(StoreError::Backend(
            "a command of the embedded store waited for an operation".into(),
        ))),
    }
}
