"""The history that lags read: what a step reads from further back.

With `lags=(1, 48, 336)`, the step that reads element `t` (to predict
`t + 1`) reads, in that order, the encoded elements `t`, `t - 47` and
`t - 335`. Lag 1 is the element itself. The elements are the encoded (and
scaled) ones, so the history is kept encoded: an element before a row's
first valid one reads zeros, the history's initial value.

`NoLags` is the default `lags=(1,)`: no history at all, and the step is the
one it always was. `Lags` keeps the history in two forms:
- in the layer's state, `(batch, max(lags) - 1, width)`: the last
  `max(lags) - 1` encoded elements a row read, oldest first, zeros before
  its first valid element. That is all the next step needs: it reads its
  own element and at most `max(lags) - 1` before it;
- in the carry of a loop, a ring buffer of `max(lags)` slots, time first
  (`(max(lags), batch, width)`), with each row's position: a step writes its
  element once, in place, at the row's position and reads its lags by
  gather. Nothing grows with the number of steps.

Counting is per row and per valid element: a masked step neither writes
nor moves the row's position. Everything here is `keras.ops`.
"""

import numbers

from keras import ops

from selffeed_keras import _backend

# The longest lag: the history's positions and indices are int32. A call's
# rows times `max(lags)` must stay within it too (`_budget.check`).
MAX_LAG = 2**31 - 1


def check(lags):
    """Returns `lags` as a tuple of ints, or raises.

    Args:
        lags: the layer's argument: distinct positive integers that include 1.

    Returns:
        A tuple of Python ints, in the order given.
    """
    help_ = (
        "`lags` must be a tuple of distinct positive integers that includes 1 "
        "(lag 1 is the element the layer feeds back), such as (1, 48, 336)"
    )
    if isinstance(lags, (str, bytes)) or not hasattr(lags, "__iter__"):
        raise TypeError(f"{help_}. Received: lags={lags!r}.")
    lags = tuple(lags)
    for lag in lags:
        if isinstance(lag, bool) or not isinstance(lag, numbers.Integral):
            raise TypeError(
                f"{help_}. Received: lags={lags!r}, with {lag!r} of type "
                f"{type(lag).__name__}."
            )
    lags = tuple(int(lag) for lag in lags)
    if not lags or min(lags) < 1:
        raise ValueError(f"{help_}. Received: lags={lags!r}.")
    if max(lags) > MAX_LAG:
        raise ValueError(
            f"{help_}, each at most {MAX_LAG} (2**31 - 1): the history is kept "
            "as `max(lags)` elements per row and read through int32 indices. "
            f"Received: lags={lags!r}."
        )
    if len(set(lags)) != len(lags):
        raise ValueError(f"{help_}; a lag appears twice. Received: lags={lags!r}.")
    if 1 not in lags:
        raise ValueError(f"{help_}; 1 is missing. Received: lags={lags!r}.")
    return lags


def get(lags, width):
    """The history of `lags` (checked) for encoded elements `width` wide."""
    return NoLags() if tuple(lags) == (1,) else Lags(lags, width)


class NoLags:
    """`lags=(1,)`: the step reads its element only, and keeps no history."""

    num_states = 0
    lags = (1,)

    def template(self, batch_size, dtype):
        """The history part of the flat state: nothing."""
        return []

    def ring(self, history):
        """The loop's form of the state's history: nothing."""
        return ()

    def state(self, ring):
        """The state's form of the loop's history: nothing."""
        return []

    def repeat(self, ring, repeats):
        return ()

    def gather(self, ring, rows):
        return ()

    def read(self, encoded, ring, valid=None):
        """The lagged input of one step: the element itself."""
        return encoded, ring

    def last(self, ring):
        """No history: no last element (`observe` refuses gaps before)."""
        raise ValueError("A layer with lags=(1,) keeps no last element.")

    def sequence(self, encoded, history, mask=None):
        """The lagged inputs of a whole sequence: the sequence itself."""
        return encoded, []

    # The history as the flat states of a Keras RNN cell: none.
    cell_state_sizes = ()

    def cell_states(self, history):
        return []

    def from_cell_states(self, states):
        return []

    def shift(self, encoded, states):
        """One step of a Keras RNN cell: the element itself, no states."""
        return encoded, []


class Lags:
    """A history of encoded elements, read at `lags` (see the module).

    Args:
        lags: the checked lags, in the order the cell reads them.
        width: the width of one encoded element.
    """

    num_states = 1

    def __init__(self, lags, width):
        self.lags = tuple(lags)
        self.width = width
        self.size = max(self.lags)  # slots of the ring

    # --------------------------------------------------------------- state

    def template(self, batch_size, dtype):
        """The history part of the flat state, zeros: a list of one tensor."""
        return [ops.zeros((batch_size, self.size - 1, self.width), dtype)]

    def ring(self, history):
        """The ring buffer, time first, from the state's `[history]`.

        Slot 0 is the one the first step writes; the state's elements, oldest
        first, fill slots 1 ... size - 1, where the lags of that step find
        them (see `read`).
        """
        (history,) = history
        # Time first, then joined: a new tensor in that layout (on torch a
        # transposed view would make every step's reshape copy it).
        slots = ops.transpose(history, (1, 0, 2))
        slots = ops.concatenate([ops.zeros_like(slots[:1]), slots], 0)
        batch_size = ops.shape(history)[0]
        return {"slots": slots, "position": ops.zeros((batch_size,), "int32")}

    def state(self, ring):
        """The state's `[history]` from the ring: the last size - 1 elements."""
        slots, position = ring["slots"], ring["position"]
        offsets = ops.arange(1, self.size, dtype="int32")
        where = (position[:, None] + offsets[None]) % self.size  # (batch, size-1)
        history = self._take(slots, where)
        return [history]

    def repeat(self, ring, repeats):
        """Each row's history `repeats` times, a row's copies side by side."""
        return {
            "slots": ops.repeat(ring["slots"], repeats, axis=1),
            "position": ops.repeat(ring["position"], repeats, axis=0),
        }

    def gather(self, ring, rows):
        """The histories of `rows` (int32 `(new_batch,)`), as beams reorder."""
        return {
            "slots": ops.take(ring["slots"], rows, axis=1),
            "position": ops.take(ring["position"], rows, axis=0),
        }

    # ------------------------------------------- as the state of an RNN cell
    # A Keras RNN cell's states are `(batch, size)`: the history travels
    # flattened, and shifts by one element per step (training only, where
    # a step costs far more than the copy).

    @property
    def cell_state_sizes(self):
        return ((self.size - 1) * self.width,)

    def cell_states(self, history):
        """The state's `[history]` as the flat states of an RNN cell."""
        (history,) = history
        return [ops.reshape(history, (ops.shape(history)[0], -1))]

    def from_cell_states(self, states):
        """The state's `[history]` from `cell_states`' form."""
        (flat,) = states
        return [ops.reshape(flat, (ops.shape(flat)[0], self.size - 1, self.width))]

    def shift(self, encoded, states):
        """One step of an RNN cell: the lagged input, and the states after it."""
        (history,) = self.from_cell_states(states)
        whole = ops.concatenate(
            [history, ops.cast(encoded, history.dtype)[:, None]], axis=1
        )
        lagged = ops.concatenate([whole[:, self.size - lag] for lag in self.lags], -1)
        return ops.cast(lagged, encoded.dtype), self.cell_states([whole[:, 1:]])

    # ---------------------------------------------------------------- steps

    def _take(self, slots, where):
        """`slots[where[b, j], b]` for every row `b`: `(batch, J, width)`."""
        batch_size = ops.shape(slots)[1]
        flat = ops.reshape(slots, (-1, self.width))
        rows = ops.arange(batch_size, dtype="int32")[:, None]
        return ops.take(flat, where * batch_size + rows, axis=0)

    def last(self, ring):
        """Each row's last element read, `(batch, width)`: what a gap repeats.

        The element before the row's position, which the ring made from a
        state holds too (the state's newest element); zeros before a row's
        first element.
        """
        where = (ring["position"] - 1) % self.size
        return self._take(ring["slots"], where[:, None])[:, 0]

    def read(self, encoded, ring, valid=None):
        """One step: writes `encoded` and reads the lags.

        Args:
            encoded: `(batch, width)`, the element the step reads.
            ring: the loop's history.
            valid: None, or boolean `(batch,)`: rows whose step is masked
                write into their current slot, which no later read sees
                before the row's next valid element overwrites it, and keep
                their position.

        Returns:
            `(lagged, ring)`: `lagged` is `(batch, len(lags) * width)`, lag by
            lag in the order given.
        """
        slots, position = ring["slots"], ring["position"]
        batch_size = ops.shape(encoded)[0]
        rows = ops.arange(batch_size, dtype="int32")
        slot = position % self.size
        # In place on torch: the ring is the loop's own (made by `ring`,
        # `repeat` or `gather`), and only this step's result is read on.
        slots = _backend.scatter_update_owned(
            slots, ops.stack([slot, rows], axis=1), ops.cast(encoded, slots.dtype)
        )
        lags = ops.convert_to_tensor(self.lags, "int32")
        where = (position[:, None] - lags[None] + 1) % self.size  # (batch, lags)
        lagged = ops.reshape(
            self._take(slots, where), (batch_size, len(self.lags) * self.width)
        )
        step = ops.ones_like(position) if valid is None else ops.cast(valid, "int32")
        return ops.cast(lagged, encoded.dtype), {
            "slots": slots,
            "position": position + step,
        }

    def sequence(self, encoded, history, mask=None):
        """The lagged inputs of a whole sequence, as shifted copies.

        Args:
            encoded: `(batch, time, width)`, the encoded (and scaled) inputs.
            history: the state's `[history]`, `(batch, size - 1, width)`.
            mask: None or boolean `(batch, time)`: masked steps are neither
                read nor stored; their lagged inputs are zeros.

        Returns:
            `(lagged, [history])`: `lagged` is `(batch, time, len(lags) *
            width)`, and the history after the last valid step.
        """
        (history,) = history
        history = ops.cast(history, encoded.dtype)
        batch_size, time = ops.shape(encoded)[0], ops.shape(encoded)[1]
        steps = ops.arange(time, dtype="int32")
        if mask is None:
            # Element t of the row is at index size - 1 + t of `whole`.
            whole = ops.concatenate([history, encoded], 1)
            ends = ops.broadcast_to(steps[None], (batch_size, time))
            counts = ops.full((batch_size,), time, "int32")
        else:
            # The valid elements first, in order: a row's k-th valid element
            # is at index size - 1 + k of `whole`, wherever it stood.
            mask = ops.cast(mask, "bool")
            order = ops.argsort(ops.where(mask, steps[None], steps[None] + time))
            valid = ops.take_along_axis(encoded, order[..., None], axis=1)
            whole = ops.concatenate([history, valid], 1)
            counts_so_far = ops.cumsum(ops.cast(mask, "int32"), axis=1)
            ends = ops.maximum(counts_so_far - 1, 0)
            counts = counts_so_far[:, -1]
        lags = ops.convert_to_tensor(self.lags, "int32")
        # Lag l of the element at index i of `whole` is at index i + 1 - l.
        where = (self.size - 1 + ends)[..., None] - lags + 1  # (batch, time, lags)
        lagged = ops.take_along_axis(
            whole, ops.reshape(where, (batch_size, -1))[..., None], axis=1
        )
        lagged = ops.reshape(lagged, (batch_size, time, len(self.lags) * self.width))
        if mask is not None:
            lagged = ops.where(mask[..., None], lagged, ops.zeros_like(lagged))
        last = counts[:, None] + ops.arange(self.size - 1, dtype="int32")[None]
        new_history = ops.take_along_axis(whole, last[..., None], axis=1)
        return lagged, [new_history]
