//! The queue in front of the shared detector: one short lane per camera, drained in batches.
//!
//! Every camera pushes into its own lane of at most `lane_capacity` frames. A file source waits
//! for room (nothing is lost; analysis sets its pace); a live source cannot wait, so a full lane
//! drops its *oldest* frame and keeps the newest. The detector takes up to `max_batch` frames,
//! waiting at most `max_wait` for a batch to fill once the first frame is there, and takes them
//! round-robin — one per camera per turn, starting after the camera served last — so a fast or
//! busy camera never starves a slow one. Memory is bounded by `lanes × lane_capacity`.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How the queue batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Frames one camera may have waiting.
    pub lane_capacity: usize,
    /// Most frames in one detector run.
    pub max_batch: usize,
    /// Longest wait for a batch to fill once its first frame is queued.
    pub max_wait: Duration,
}

struct Lane<T> {
    key: Arc<str>,
    items: VecDeque<T>,
}

struct State<T> {
    lanes: Vec<Lane<T>>,
    /// The lane the next batch starts with.
    next_lane: usize,
    producers: usize,
    /// The detector's end was dropped: nothing will be taken any more.
    consumer_gone: bool,
}

struct Shared<T> {
    policy: BatchPolicy,
    state: Mutex<State<T>>,
    /// Signalled when frames arrive or the last producer leaves.
    arrived: Condvar,
    /// Signalled when frames leave.
    taken: Condvar,
}

impl<T> State<T> {
    /// Frames waiting in all lanes.
    fn queued(&self) -> usize {
        self.lanes.iter().map(|l| l.items.len()).sum()
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The detector's end of the queue.
pub struct BatchQueue<T> {
    shared: Arc<Shared<T>>,
}

/// One camera's end of the queue. The queue closes when every producer is dropped.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    lane: usize,
}

impl<T> BatchQueue<T> {
    pub fn new(policy: BatchPolicy) -> Self {
        let policy = BatchPolicy { lane_capacity: policy.lane_capacity.max(1), max_batch: policy.max_batch.max(1), ..policy };
        let state = State { lanes: Vec::new(), next_lane: 0, producers: 0, consumer_gone: false };
        BatchQueue { shared: Arc::new(Shared { policy, state: Mutex::new(state), arrived: Condvar::new(), taken: Condvar::new() }) }
    }

    pub fn policy(&self) -> BatchPolicy {
        self.shared.policy
    }

    /// A producer for `key` (a camera), with a lane of its own.
    pub fn producer(&self, key: &str) -> Producer<T> {
        add_producer(&self.shared, key)
    }

    /// Frames waiting now.
    pub fn queued(&self) -> usize {
        self.shared.lock().queued()
    }

    /// The next batch, oldest frames first within a camera and cameras in turn. Blocks until a
    /// frame is queued; returns `None` once every producer has gone and the queue is empty.
    pub fn next_batch(&self) -> Option<Vec<T>> {
        let policy = self.shared.policy;
        let mut state = self.shared.lock();
        while state.queued() == 0 {
            if state.producers == 0 {
                return None;
            }
            state = self.shared.arrived.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        let deadline = Instant::now() + policy.max_wait;
        while state.queued() < policy.max_batch && state.producers > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self.shared.arrived.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        let batch = take_round_robin(&mut state, policy.max_batch);
        drop(state);
        self.shared.taken.notify_all();
        Some(batch)
    }
}

impl<T> Drop for BatchQueue<T> {
    fn drop(&mut self) {
        self.shared.lock().consumer_gone = true;
        self.shared.taken.notify_all();
    }
}

/// Up to `max` items, one per non-empty lane per turn, starting at `next_lane`.
fn take_round_robin<T>(state: &mut State<T>, max: usize) -> Vec<T> {
    let lanes = state.lanes.len();
    let mut batch = Vec::with_capacity(max.min(state.queued()));
    let mut lane = state.next_lane % lanes.max(1);
    let mut idle_in_a_row = 0;
    while batch.len() < max && idle_in_a_row < lanes {
        match state.lanes[lane].items.pop_front() {
            Some(item) => {
                batch.push(item);
                idle_in_a_row = 0;
                state.next_lane = (lane + 1) % lanes;
            }
            None => idle_in_a_row += 1,
        }
        lane = (lane + 1) % lanes;
    }
    batch
}

/// A producer with the lane of `key` (made on first use; a returning key gets its old lane).
fn add_producer<T>(shared: &Arc<Shared<T>>, key: &str) -> Producer<T> {
    let mut state = shared.lock();
    state.producers += 1;
    let lane = match state.lanes.iter().position(|l| &*l.key == key) {
        Some(lane) => lane,
        None => {
            state.lanes.push(Lane { key: Arc::from(key), items: VecDeque::new() });
            state.lanes.len() - 1
        }
    };
    Producer { shared: shared.clone(), lane }
}

impl<T> Producer<T> {
    /// Another producer on the same queue, for `key`: how cameras added while the detector
    /// runs get their lanes.
    pub fn sibling(&self, key: &str) -> Producer<T> {
        add_producer(&self.shared, key)
    }

    /// True once the detector's end is gone (its thread ended): nothing pushed will be used.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().consumer_gone
    }

    /// Queues `item`, waiting up to `timeout` for room in this camera's lane; gives it back
    /// if there was none (the caller checks for shutdown and tries again).
    pub fn push_wait(&self, item: T, timeout: Duration) -> Result<(), T> {
        let capacity = self.shared.policy.lane_capacity;
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.lanes[self.lane].items.len() >= capacity {
            if state.consumer_gone {
                return Err(item);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(item);
            }
            state = self.shared.taken.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        self.enqueue(state, item);
        Ok(())
    }

    /// Queues `item` at once; when the lane is full its oldest frame makes room and is returned.
    pub fn push_drop_oldest(&self, item: T) -> Option<T> {
        let capacity = self.shared.policy.lane_capacity;
        let mut state = self.shared.lock();
        let lane = &mut state.lanes[self.lane].items;
        let dropped = if lane.len() >= capacity { lane.pop_front() } else { None };
        self.enqueue(state, item);
        dropped
    }

    fn enqueue(&self, mut state: MutexGuard<'_, State<T>>, item: T) {
        state.lanes[self.lane].items.push_back(item);
        drop(state);
        self.shared.arrived.notify_one();
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.shared.lock().producers -= 1;
        self.shared.arrived.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(lane_capacity: usize, max_batch: usize, max_wait_ms: u64) -> BatchPolicy {
        BatchPolicy { lane_capacity, max_batch, max_wait: Duration::from_millis(max_wait_ms) }
    }

    #[test]
    fn a_full_live_lane_drops_its_oldest_frame_and_keeps_the_newest() {
        let queue = BatchQueue::new(policy(2, 8, 0));
        let cam = queue.producer("a");
        assert_eq!(cam.push_drop_oldest(1), None);
        assert_eq!(cam.push_drop_oldest(2), None);
        assert_eq!(cam.push_drop_oldest(3), Some(1));
        assert_eq!(cam.push_drop_oldest(4), Some(2));
        assert_eq!(queue.queued(), 2);
        assert_eq!(queue.next_batch(), Some(vec![3, 4]));
    }

    #[test]
    fn batches_take_cameras_in_turn_so_a_busy_camera_cannot_starve_the_others() {
        let queue = BatchQueue::new(policy(4, 3, 0));
        let busy = queue.producer("busy");
        let quiet = queue.producer("quiet");
        let other = queue.producer("other");
        for i in 0..4 {
            busy.push_drop_oldest(("busy", i));
        }
        quiet.push_drop_oldest(("quiet", 0));
        other.push_drop_oldest(("other", 0));
        other.push_drop_oldest(("other", 1));
        assert_eq!(queue.next_batch().unwrap(), vec![("busy", 0), ("quiet", 0), ("other", 0)]);
        // The next batch starts after the camera served last.
        assert_eq!(queue.next_batch().unwrap(), vec![("busy", 1), ("other", 1), ("busy", 2)]);
        assert_eq!(queue.next_batch().unwrap(), vec![("busy", 3)]);
    }

    #[test]
    fn a_batch_waits_at_most_max_wait_to_fill() {
        let queue = BatchQueue::new(policy(2, 4, 150));
        let cam = queue.producer("a");
        cam.push_drop_oldest(1);
        let started = Instant::now();
        assert_eq!(queue.next_batch(), Some(vec![1]));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(140) && waited < Duration::from_secs(2), "{waited:?}");
    }

    #[test]
    fn a_batch_is_handed_over_as_soon_as_it_is_full() {
        let queue = BatchQueue::new(policy(2, 2, 10_000));
        let (a, b) = (queue.producer("a"), queue.producer("b"));
        a.push_drop_oldest(1);
        b.push_drop_oldest(2);
        let started = Instant::now();
        assert_eq!(queue.next_batch(), Some(vec![1, 2]));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_file_source_waits_for_room_and_loses_nothing() {
        let queue = Arc::new(BatchQueue::new(policy(1, 1, 0)));
        let cam = queue.producer("file");
        assert_eq!(cam.push_wait(1, Duration::from_millis(10)), Ok(()));
        assert_eq!(cam.push_wait(2, Duration::from_millis(10)), Err(2), "full lane gives the frame back");
        let consumer = {
            let queue = queue.clone();
            std::thread::spawn(move || std::iter::from_fn(|| queue.next_batch()).flatten().collect::<Vec<_>>())
        };
        for i in 2..=50 {
            let mut item = i;
            while let Err(back) = cam.push_wait(item, Duration::from_millis(50)) {
                item = back;
            }
        }
        drop(cam);
        assert_eq!(consumer.join().unwrap(), (1..=50).collect::<Vec<_>>());
    }

    #[test]
    fn producers_learn_when_the_detector_is_gone() {
        let queue = BatchQueue::new(policy(1, 1, 0));
        let cam = queue.producer("a");
        cam.push_drop_oldest(1);
        assert!(!cam.is_closed());
        drop(queue);
        assert!(cam.is_closed());
        let started = Instant::now();
        assert_eq!(cam.push_wait(2, Duration::from_secs(5)), Err(2));
        assert!(started.elapsed() < Duration::from_secs(1), "no waiting for room that will never come");
    }

    #[test]
    fn the_queue_closes_when_the_last_producer_leaves() {
        let queue = BatchQueue::<u32>::new(policy(2, 4, 1000));
        let cam = queue.producer("a");
        cam.push_drop_oldest(7);
        drop(cam);
        assert_eq!(queue.next_batch(), Some(vec![7]));
        assert_eq!(queue.next_batch(), None);
    }
}
