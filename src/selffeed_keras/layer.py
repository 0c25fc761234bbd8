"""SelfFeedingRNN: one set of weights for teacher forcing and free running."""

import keras
from keras import ops

from selffeed_keras import (
    _beam,
    _calls,
    _cells,
    _checks,
    _feedback,
    _history_state,
    _inputs,
    _lags,
    _saving,
    _scaling,
    _score,
    _spec,
    _step,
    distributions,
    samplers,
    schedules,
)


@keras.saving.register_keras_serializable(package="selffeed_keras")
class SelfFeedingRNN(keras.layers.Layer):
    """An RNN that trains teacher-forced and generates on its own outputs.

    Wraps an RNN cell and a projection head. Called on a sequence, it is
    teacher-forced: output `t` is the head's prediction after reading inputs
    `0..t`, so it trains with `model.fit` on targets shifted by one step.
    `generate(seed, steps)` warms the state up on a seed, then feeds each
    prediction back as the next input, all in one compiled loop (a
    `tf.while_loop` traced once, whatever `steps` or the seed length; on
    JAX a `jax.jit` program; on torch an eager loop). The same weights serve
    both.

    Covariates are inputs read at every step but never predicted (a
    calendar, a price, a plant's control input): pass them as
    `covariates=` to the call and to `generate`, and the cell reads, at each
    step, the encoded input followed by that step's covariates.

    Use it for continuous series (a sine wave, a forecast: `head` maps the
    cell output back to the input features and `sampler` is None) and for
    token models (`encoder` is an `Embedding`, `head` gives logits and a
    `sampler` picks the next id).

    Args:
        cell: a Keras RNN cell (`LSTMCell`, `GRUCell`, `SimpleRNNCell`, or
            your own with any state structure), a list of cells (stacked), or
            a recurrent layer (`keras.layers.LSTM`, `GRU`, `SimpleRNN`). A
            recurrent layer runs the teacher-forced pass itself, keeping its
            fast kernels (cuDNN on a GPU), and its cell steps generation. A
            recurrent layer created without `return_sequences=True,
            return_state=True` is replaced by an unbuilt copy with them.
        head: a Keras layer from the cell output to a prediction, such as
            `Dense(1)` or `Dense(vocab_size)` for logits. None uses the cell
            output itself.
        encoder: a Keras layer applied to each fed-in step, such as an
            `Embedding` for token ids. None feeds inputs unchanged.
        sampler: what turns the head output into the next input. None feeds
            the head output back unchanged (continuous values; its width must
            equal the input's). For token models a
            `selffeed_keras.samplers.Sampler` or its name (`"greedy"`,
            `"random"`, `"top_k"`, `"top_p"`, `"beam"`); it needs an
            `encoder`. A `BeamSampler` makes `generate` search for the most
            likely sequences.
        return_state: bool. If True, `call` returns `(outputs, state)` with
            the final state as a flat list of tensors. Defaults to `False`.
        random_seed: int in [0, `2**32 - 1`] (what every Keras backend's seed
            state holds), or None. Seeds the layer's `SeedGenerator`, the
            source of randomness for sampling; its state is saved with the
            layer. Defaults to None (random).
        sampling_probability: float in [0, 1] or a
            `selffeed_keras.schedules.Schedule`. In training, each step after
            the first reads the layer's own previous output (through its
            sampler) instead of the true input with this probability, drawn
            per row and per step: 0 is teacher forcing (the default, and the
            fast path through the recurrent layer's own kernels), 1 is
            free-running training, values between are scheduled sampling
            (Bengio et al., 2015). A schedule is evaluated at each training
            step; `callbacks.ScheduledSampling` sets the value per epoch or
            batch instead. The value lives in a non-trainable variable, so a
            change never retraces the training step.
        backprop_through_feedback: bool. If True (the default), gradients flow
            through fed-back continuous outputs into the steps that produced
            them: true closed-loop backpropagation through time. False stops
            them at each fed-back output: the model is then not taught how
            its errors compound, and on the exposure-bias benchmark it did
            no better than teacher forcing. Sampled token ids carry no
            gradient either way.
        distribution: None, or a `selffeed_keras.distributions.Distribution`
            or its name (`"normal"`, `"log_normal"`, `"student_t"`,
            `"negative_binomial"`):
            a probabilistic model. The layer adds its own projection (after
            `head` when given) to every parameter of every feature, as
            DeepAR does; called, it returns the parameters, trained with
            `layer.distribution.loss`, and `generate` feeds back a draw.
            Not together with a `sampler`. Defaults to None.
        scaling: None or `"mean"`, with a `distribution`: each series is
            divided by its mean absolute value (over the inputs in a call,
            or their first `context_length` steps; over the seed in
            `generate`; 1 for a series of zeros) before the cell reads it,
            and the parameters are scaled back, as DeepAR's mean scaler
            does. The scale is the last tensor of the state. Defaults to
            None.
        context_length: None, or a positive int with `scaling="mean"`: a
            call takes the scale from the first `context_length` time steps
            of its inputs only (their valid ones, padding counted in the
            steps), the part of a training window that plays the seed,
            so that training scales a window as `generate` scales a seed
            of that length. None takes it from all the inputs. Defaults to
            None.
        jit_compile: `"auto"`, True or False. Whether XLA compiles the
            free-running loop of `generate`; measured on 2 CPU cores over
            1,000 steps or more, 1.7 to 18 times faster per step at batch 1
            and 1.2 to 2.4 times at batch 32 or 64 (see the benchmarks
            page). The
            loop is compiled in chunks of fixed size, so a new `steps` does
            not recompile it. `"auto"` uses XLA and, for a cell that XLA
            cannot compile, warns and runs without it; True raises instead.
            Random samplers draw other tokens under XLA than without it for
            the same `random_seed`; each is reproducible. On JAX the whole
            call is one `jax.jit` program whatever its value, and on torch,
            whose loop runs eagerly, it has no effect. Defaults to
            `"auto"`.
        lags: tuple of distinct positive ints that includes 1. At the step
            that reads element `t` (and predicts `t + 1`), the cell reads,
            for each lag `l` in the order given, the encoded (and scaled)
            element `t + 1 - l`, then that step's covariates: `(1, 48, 336)`
            reads `t`, `t - 47` and `t - 335`. Lag 1 is the element itself.
            Lags count a row's valid elements (masked steps are neither read
            nor stored), and an element before the row's first valid one
            reads zeros. The history lives in the state (see "State"), so
            `generate` keeps it in its compiled loop and each sample path or
            beam reads its own. In training on own outputs, lag `l` reads
            whatever was fed at its step, as that step's coin chose.
            Each lag at most 2**31 - 1 (the history is read through int32
            indices). Defaults to `(1,)`: no history.
        **kwargs: base layer arguments, such as `name` and `dtype`.

    Call arguments:
        - `inputs`: `(batch, time, features)` floats for continuous models,
          `(batch, time)` integer ids for token models.
        - `covariates`: optional `(batch, time, num_covariates)` floats,
          `covariates[:, t]` read with `inputs[:, t]`. A layer built with
          covariates needs them at every call and in `generate`; a layer
          built without them refuses them. For forecasting, pass the
          covariates of the step being predicted: inputs `y[:, :-1]`,
          covariates `x[:, 1:]`, targets `y[:, 1:]`. In training with
          `sampling_probability` above 0 they are read at fed-back steps too.
        - `initial_state`: optional flat list of state tensors, as returned
          with `return_state=True`, by `generate(..., return_state=True)` or
          by `observe`.
        - `mask`: optional boolean `(batch, time)`; Keras passes it from a
          `Masking` layer in front, and an `Embedding(mask_zero=True)`
          encoder adds its own. Masked steps leave the state unchanged.
        - `training`: bool. Passed to the cell, encoder and head (dropout);
          in training, `sampling_probability` applies. Outside training the
          pass is teacher-forced: one-step-ahead predictions.

    State:
        The flat list of tensors of `return_state` and `initial_state`, in
        `call`, `generate` and `score` alike: the cell's states (flattened
        in the cell's own order), then, with `lags` other than `(1,)`, the
        history, then, with `scaling="mean"`, the scale `(batch, features)`,
        which stays last. The history is one `(batch, max(lags) - 1, width)`
        tensor of encoded (and scaled) elements, `width` the encoder's output
        size (the features without an encoder): the last `max(lags) - 1`
        elements a row read, oldest first, zeros before its first valid
        element. It holds encoded vectors rather than raw elements, so it
        needs no count of valid elements: zeros are what lags read before
        the first one.

    Returns:
        The head outputs, `(batch, time, ...)`, that is the predictions of
        the next input, or logits for token models. With
        `return_state=True`, the tuple `(outputs, state)`, `state` a flat
        list of tensors.

    Raises:
        TypeError: for a `cell` that is not an RNN cell, a list of cells or a
            recurrent layer; a `head` or `encoder` that is not a Keras layer;
            a `sampler` of the wrong type; a non-bool flag.
        ValueError: for an unknown sampler name, a `sampler` without an
            `encoder`, a recurrent layer that runs backwards or is stateful,
            a `sampling_probability` outside [0, 1], a bad `jit_compile`;
            when built, inputs of the wrong rank, or a head whose output
            cannot be fed back (`sampler=None` and a width other than the
            input's, or, for a token model, wider than the encoder's
            `input_dim`); when called, inputs of another rank or feature size
            than the layer was built for, a `mask` that is not `(batch,
            time)` of the inputs, an `initial_state` whose number of
            tensors or shapes (batch included) differ from the state's, or
            covariates missing, unexpected or of the wrong shape (a
            `TypeError` for covariates that are not an array or a tensor).

    Attributes:
        cell: what `cell` resolved to: the cell, a `StackedRNNCells` for a
            list, or the recurrent layer itself.
        rnn: the `keras.layers.RNN` that runs the teacher-forced pass and the
            seed warm-up; `rnn.cell` is the cell that steps generation.
        head: the head layer, or None.
        encoder: the encoder layer, or None.
        sampler: the sampler, or None for continuous feedback. Assigning
            another sampler (or name) makes the next `generate` trace anew
            with it; a training step traced before keeps the old one.
        seed_generator: the `keras.random.SeedGenerator` behind sampling and
            the scheduled-sampling coin flips.

    Examples:
        >>> layer = selffeed_keras.SelfFeedingRNN(
        ...     keras.layers.LSTMCell(8), head=keras.layers.Dense(1)
        ... )
        >>> tuple(layer(np.zeros((2, 5, 1), "float32")).shape)
        (2, 5, 1)
        >>> tuple(layer.generate(np.zeros((2, 5, 1), "float32"), steps=20).shape)
        (2, 20, 1)
    """

    def __init__(
        self,
        cell,
        head=None,
        encoder=None,
        sampler=None,
        return_state=False,
        random_seed=None,
        sampling_probability=0.0,
        backprop_through_feedback=True,
        jit_compile="auto",
        distribution=None,
        scaling=None,
        lags=(1,),
        context_length=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.lags = _lags.check(lags)
        self.rnn = _cells.recurrent_layer(cell)
        self.cell = self.rnn if isinstance(cell, keras.layers.RNN) else self.rnn.cell
        self.head = _checks.layer_or_none(head, "head", "keras.layers.Dense(1)")
        self.encoder = _checks.layer_or_none(
            encoder, "encoder", "keras.layers.Embedding(vocab_size, 32)"
        )
        self._generation = None
        self._spec = None  # what build resolves: a `_spec.Spec`
        self.sampler = sampler
        if self.sampler is not None and self.encoder is None:
            raise ValueError(
                "A `sampler` turns logits into token ids, and feeding ids back "
                "needs an `encoder` that embeds them, such as "
                "`keras.layers.Embedding(vocab_size, 32)`. Received: "
                f"sampler={self.sampler!r} with encoder=None."
            )
        self.distribution = distributions.get(distribution)
        if self.distribution is not None and self.sampler is not None:
            raise ValueError(
                "A layer feeds back either a sampled token (`sampler`) or a draw "
                "from a distribution (`distribution`), not both. Received: "
                f"sampler={self.sampler!r} and distribution={self.distribution!r}."
            )
        self.scaling = _checks.scaling(scaling, self.distribution)
        self.context_length = _checks.context_length(context_length, self.scaling)
        self.projection = None
        self.return_state = _checks.boolean(return_state, "return_state")
        self.random_seed = _checks.optional_seed(random_seed, "random_seed")
        self.seed_generator = keras.random.SeedGenerator(self.random_seed)
        self.sampling_probability = _checks.probability_or_schedule(
            sampling_probability, "sampling_probability", schedules.Schedule
        )
        self.backprop_through_feedback = _checks.boolean(
            backprop_through_feedback, "backprop_through_feedback"
        )
        # The probability in use, and the count of training steps that a
        # schedule reads: variables, so that changes never retrace. Attributes
        # of the layer, so that `tf.train.Checkpoint` saves them.
        self._probability = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(
                float(schedules.get(self.sampling_probability)(0))
            ),
            trainable=False,
            aggregation="only_first_replica",
            name="sampling_probability",
        )
        self._training_steps = self.add_weight(
            shape=(),
            dtype="int32",
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
            name="training_steps",
        )
        self._switch = _feedback.Switch(
            self.sampling_probability,
            self._probability,
            self._training_steps,
            self.name,
        )
        _beam.check_training(self.sampler, self._switch.feedback_in_training)
        self.jit_compile = _checks.jit_compile(jit_compile)
        self.supports_masking = True

    @property
    def sampler(self):
        """The sampler that turns head outputs into the next token, or None."""
        return self._sampler

    @sampler.setter
    def sampler(self, value):
        value = samplers.get(value)
        switch = getattr(self, "_switch", None)
        _beam.check_training(value, switch is not None and switch.feedback_in_training)
        previous = getattr(self, "_sampler", value)
        if (value is None) != (previous is None):
            raise ValueError(
                "A layer cannot switch between continuous feedback (sampler=None) "
                "and token sampling: create a new SelfFeedingRNN for that. "
                f"Received: sampler={value!r} on a layer with sampler={previous!r}."
            )
        self._sampler = value
        if self._spec is not None:
            self._spec = self._spec.with_sampler(value)
        self._generation = None  # generate traces anew with it

    @property
    def input_dtype(self):
        """The dtype of float inputs: float32 with `scaling`, else the compute dtype.

        Keras casts a call's float inputs (covariates included) to it. A
        scaled layer reads them in float32 and divides by each series' scale
        first, so that under `mixed_float16` a series above float16's
        largest value, 65,504, is scaled before it is cast.
        """
        if getattr(self, "scaling", None) == "mean":
            return "float32"
        return super().input_dtype

    @property
    def is_token_model(self):
        """True when the layer reads and generates integer token ids.

        A layer with a `sampler` is a token model: it reads `(batch, time)`
        integer ids and `generate` returns ids.

        Examples:
            >>> selffeed_keras.SelfFeedingRNN(keras.layers.GRUCell(4)).is_token_model
            False
        """
        return self.sampler is not None

    # ------------------------------------------------------------------ build

    def build(self, inputs_shape, covariates_shape=None):
        """Builds the encoder, recurrent layer and head for these shapes.

        Sublayers that are built already (shared, or built by you) are left
        as they are. Keras calls this on the first call; `generate` calls it
        on a layer that was never called.

        Args:
            inputs_shape: `(batch, time, features)` for continuous models,
                `(batch, time)` for token models; `None` for unknown sizes.
            covariates_shape: `(batch, time, num_covariates)`, or None for a
                layer without covariates.

        Raises:
            ValueError: for a shape of the wrong rank, or a head whose output
                cannot be fed back as the next input.
        """
        inputs_shape = tuple(inputs_shape)
        rank = 2 if self.is_token_model else 3
        if len(inputs_shape) != rank:
            raise ValueError(
                _inputs.rank_message("inputs", inputs_shape, self.is_token_model)
            )
        num_covariates = _inputs.covariates_shape(covariates_shape)
        self._spec = _spec.build(self, inputs_shape, num_covariates)

    def get_build_config(self):
        """Returns the shapes the layer was built for, covariates included.

        Returns:
            A dict with `input_shape` and `covariates_shape` (None for a
            layer without covariates), for `build_from_config`.
        """
        if not self.built:
            return None
        covariates = None
        if self._spec.num_covariates is not None:
            covariates = (None, None, self._spec.num_covariates)
        return {"input_shape": self._spec.input_shape, "covariates_shape": covariates}

    def build_from_config(self, config):
        """Builds the layer from `get_build_config()`'s output.

        Args:
            config: a dict from `get_build_config`.
        """
        if config:
            self.build(config["input_shape"], config.get("covariates_shape"))

    # ---------------------------------------------------------- teacher forcing

    def call(
        self, inputs, initial_state=None, mask=None, training=None, covariates=None
    ):
        """Runs the pass over a whole sequence, teacher-forced outside training.

        See "Call arguments" and "Returns" in the class docstring.

        Examples:
            >>> layer = selffeed_keras.SelfFeedingRNN(
            ...     keras.layers.GRUCell(4), head=keras.layers.Dense(1),
            ...     return_state=True,
            ... )
            >>> outputs, state = layer(np.zeros((2, 6, 1), "float32"))
            >>> tuple(outputs.shape), [tuple(s.shape) for s in state]
            ((2, 6, 1), [(2, 4)])
        """
        spec = self._spec
        step = spec.step
        _inputs.call_inputs(inputs, spec.input_shape, spec.token_model)
        _inputs.call_mask(mask, inputs)
        _inputs.call_covariates(covariates, inputs, spec.num_covariates)
        state = history = given = None
        if initial_state is not None:
            initial_state = _inputs.call_state(
                initial_state, spec.state_specs, inputs.shape[0]
            )
            state, history, given = step.split_state(initial_state)
        mask = step.input_mask(inputs, mask)
        scale = spec.scaler.from_inputs(inputs, mask, given)
        if scale is not None:
            inputs = spec.scaler.apply(inputs, scale, self.compute_dtype)
        x = inputs if step.encoder is None else step.encoder(inputs, training=training)
        batch_size = ops.shape(x)[0]
        if history is None:
            history = spec.history.template(batch_size, x.dtype)
        state = (
            spec.cell_state(batch_size)
            if state is None
            else spec.pack_state(state, batch_size)
        )
        if training and self._switch.feedback_in_training:
            outputs, state, history = self._run_with_feedback(
                x, covariates, state, history, mask, training, scale
            )
        else:
            self._switch.traced_teacher_forced |= bool(training)
            sequence, state, history = spec.sequence(
                x, covariates, state, history, mask, training
            )
            outputs = step.apply_head(sequence, training)
        outputs = step.readout.emit(
            ops.cast(outputs, self.compute_dtype),
            None if scale is None else scale[:, None],
        )
        if self.return_state:
            state = spec.cast_state(state) + history
            return outputs, state + ([scale] if scale is not None else [])
        return outputs

    def _run_with_feedback(self, x, covariates, state, history, mask, training, scale):
        coins = self._switch.coins(ops.shape(x)[:2], self.seed_generator)
        return _feedback.run_with_feedback(
            self._spec.step,
            self.rnn,
            self.seed_generator,
            x,
            covariates,
            coins,
            state,
            history,
            mask,
            training,
            output_size=self._spec.output_size,
            stop_gradient=not self.backprop_through_feedback,
            dtype=self.dtype_policy,
            scale=scale,
        )

    def set_sampling_probability(self, value):
        """Sets the probability of feeding back own outputs in training.

        `callbacks.ScheduledSampling` calls it for you. A new value takes
        effect at the next training step without retracing, with one
        exception: a layer created with `sampling_probability=0.0` traces
        training teacher-forced, so the first value above 0 needs its
        training step traced anew (`model.make_train_function(force=True)`,
        or `model.compile` again); the callback does that itself, and this
        method warns when it is needed.

        Args:
            value: float in [0, 1].

        Raises:
            ValueError: for a value outside [0, 1], or on a layer whose
                `sampling_probability` is a schedule (it sets the value itself).

        Examples:
            >>> layer = selffeed_keras.SelfFeedingRNN(keras.layers.GRUCell(4))
            >>> layer.set_sampling_probability(0.25)
            >>> layer.current_sampling_probability
            0.25
        """
        value = _checks.probability(value, "value")
        _beam.check_training(self.sampler, value > 0)
        self._switch.set(value)

    @property
    def current_sampling_probability(self):
        """The probability in use at the next training step, as a float."""
        return float(self._switch.probability.numpy())

    def compute_mask(self, inputs, mask=None):
        """Returns the mask of the outputs: the input mask, encoder's included.

        Output `t` belongs to input `t`, so a loss on the outputs skips the
        masked steps.

        Args:
            inputs: the inputs of `call`.
            mask: the mask Keras passes with them, or None.

        Returns:
            A boolean `(batch, time)` mask or None; with `return_state=True`,
            `(mask, [None, ...])` with one None per state tensor.

        Examples:
            >>> layer = selffeed_keras.SelfFeedingRNN(
            ...     keras.layers.GRUCell(4),
            ...     head=keras.layers.Dense(5),
            ...     encoder=keras.layers.Embedding(5, 3, mask_zero=True),
            ...     sampler="greedy",
            ... )
            >>> np.asarray(layer.compute_mask(np.array([[3, 1, 0]]))).tolist()
            [[True, True, False]]
        """
        mask = _step.input_mask(self.encoder, inputs, mask)
        if self.return_state:
            scaler = _scaling.get(self.scaling, self.context_length)
            return mask, [None] * _spec.num_states(self.rnn, self.lags, scaler)
        return mask

    # ------------------------------------------------------------- generation

    def generate(
        self,
        seed,
        steps,
        *,
        covariates=None,
        initial_state=None,
        seed_mask=None,
        end_token=None,
        random_seed=None,
        return_state=False,
        num_samples=None,
        sampler=None,
        noise_scale=None,
        max_bytes=_checks.MAX_BYTES,
    ):
        """Generates the `steps` elements that follow `seed`, on its own outputs.

        The cell reads the seed's steps, then each element it generates, in
        one loop. On TensorFlow it is a `tf.while_loop` traced once:
        a new `steps`, seed length or batch size does not retrace it. On JAX
        it is a `jax.lax.while_loop` in one `jax.jit` program that takes the
        weights as arguments (a `fit` between calls compiles nothing anew);
        it compiles once per batch size, `num_samples`, power of two of
        `steps` and bucket of seed lengths (each at most a quarter longer
        than the last). On torch, which Keras compiles nothing for, it is
        an eager Python loop, one step per iteration, without gradients:
        the same results, at a higher cost per step. The prediction after
        the seed's last step is the first generated element, and each
        element is fed back to produce the next.

        Args:
            seed: `(batch, seed_time, features)` values for continuous models,
                `(batch, seed_time)` integer ids for token models; at least one
                step.
            steps: int or scalar integer tensor, from 1 to `2**31 - 1`: how
                many elements to generate after the seed.
            covariates: for a layer built with covariates, floats of shape
                `(batch, seed_time + steps - 1, num_covariates)`: column `t`
                is read with seed step `t` for `t < seed_time`, and column
                `seed_time + k - 1` with the k-th fed-back element (k = 1 ...
                steps - 1) in every row, whatever its `seed_mask`; columns of
                masked seed steps are ignored. Series that end together at
                the forecast origin (left padding) keep each row's covariates
                aligned with its own time.
            initial_state: optional flat list of state tensors to start from,
                as returned by `observe` (which has read the values before
                the seed), `generate(..., return_state=True)` or, with lags,
                by `history_state`; None starts from the cell's zero state
                (and an empty history).
            seed_mask: optional boolean `(batch, seed_time)`: which seed
                steps are real, with padding on either side. Each row
                continues from its own last valid step, exactly as it would
                alone. An `Embedding(mask_zero=True)` encoder adds its own
                mask of the padding id.
            end_token: optional int, for token models: a row that emits it
                stops, its later positions hold `end_token`, and the loop
                exits once every row has stopped.
            random_seed: optional int in [0, `2**32 - 1`] or scalar integer
                tensor. The call draws from its own stream, started from this
                seed, so that the same seed, arguments and weights give the
                same tokens, also in concurrent calls; the layer's seed
                generator is left as it was. Without it the call runs on a
                stream of its own, mixed from the layer's seed generator
                (which it advances by one) and a number reserved per call:
                concurrent calls never share draws.
            return_state: bool. If True, also return the state that produced
                the last element, ready for `initial_state`.
            num_samples: optional int from 1 to `2**31 - 1`, or scalar integer
                tensor, for a layer whose feedback is random (a
                `distribution`, or a random sampler): how many sample paths
                per row. The seed is
                read once per row; its state is repeated and every path
                draws its own elements, all `batch * num_samples` rows in
                the same compiled loop. A new `num_samples` does not
                retrace on TensorFlow, but under XLA it is a new batch size,
                which compiles the loop's chunk anew (on JAX, the program).
            sampler: optional, for token models: a
                `selffeed_keras.samplers.Sampler` or its name, used for this
                call instead of the layer's own. Equal samplers (same class
                and config) share one traced function. A `BeamSampler` runs
                a beam search.
            noise_scale: optional number above 0, for a layer with a
                `distribution`: each draw of this call comes from the
                distribution with its spread multiplied by `noise_scale`
                (its `scale_noise`: the scale of `"normal"` and
                `"student_t"`, the scale of the logarithm of
                `"log_normal"`), the centre unchanged; the draws fed back
                are the widened ones, so the paths widen further. A factor
                measured on held-back data calibrates intervals that come
                out too narrow on data the model was not trained on (see the
                probabilistic how-to). Every value but 1 (the draws as
                they are) runs one program, traced once: a new value
                traces nothing.
            max_bytes: optional int, or None for no limit: the most memory,
                in bytes, that the call may take, estimated before it
                allocates anything (state, history or outputs) for the
                loop's rows (`batch`, `batch * num_samples` paths or `batch
                * num_beams` beams): the outputs (the copies that the
                loop's buffers, their gathering and the final layout hold
                at once), each row's state, lag history (with its copies
                and the indices that order it) and covariates, and one
                step's head outputs. Defaults to 4 GiB (`2**32`). A call
                past it raises: draw many paths in batches instead (see the
                probabilistic how-to). Checked in eager calls only; the
                limits how-to gives the estimate's measured accuracy.

        Returns:
            `(batch, steps, features)` values for continuous models (float32
            draws for a `distribution`), or `(batch, steps)` int32 token ids;
            with `num_samples`, an axis of paths after the batch axis:
            `(batch, num_samples, steps, ...)`. With `return_state=True`,
            `(outputs, state)` with `state` a flat list of tensors, one row
            per path (`batch * num_samples` rows, each row's paths next to
            each other): a `(batch * num_samples, 1, features)` seed without
            `num_samples` continues every path. A `BeamSampler` returns the
            best sequence per row, or with `return_all_beams=True` the pair
            `(sequences, scores)` in place of `outputs`; with
            `return_state=True`, the best beam's state.

        In a graph (a `tf.function`, an export endpoint), `steps`,
        `num_samples`, `random_seed` and token ids are checked by assertions
        outside the compiled loop, which raise `InvalidArgumentError` naming
        the argument.

        Raises:
            ValueError: for a `steps` or `num_samples` outside [1, `2**31 - 1`],
                a `random_seed` outside [0, `2**32 - 1`], token ids outside the
                vocabulary, a token seed row of padding only (under
                `mask_zero=True`), a NaN or infinity in the seed or
                covariates (outside masked seed steps), a call past
                `max_bytes` (or whose rows times `max(lags)` pass 2**31 - 1),
                a seed of the wrong rank or feature size, a
                `seed_mask` of the wrong shape or with an empty row, an
                `end_token` without a sampler or out of range, a
                `noise_scale` not above 0 or without a distribution that
                can scale its spread, an
                `initial_state` that does not match the cell or holds a NaN
                or an infinity, or covariates
                missing, unexpected or of the wrong shape.
            TypeError: for arguments of the wrong type or dtype.

        Examples:
            Continue in chunks with the returned state:

            >>> layer = selffeed_keras.SelfFeedingRNN(
            ...     keras.layers.GRUCell(8), head=keras.layers.Dense(1)
            ... )
            >>> seed = np.sin(np.linspace(0, 3, 30, dtype="float32"))[None, :, None]
            >>> whole = layer.generate(seed, 40)
            >>> first, state = layer.generate(seed, 20, return_state=True)
            >>> rest = layer.generate(first[:, -1:], 20, initial_state=state)
            >>> bool(np.allclose(whole[:, 20:], rest, atol=1e-5))
            True
        """
        return _calls.generate(
            self, seed, steps, covariates=covariates, initial_state=initial_state,
            seed_mask=seed_mask, end_token=end_token, random_seed=random_seed,
            return_state=return_state, num_samples=num_samples, sampler=sampler,
            noise_scale=noise_scale, max_bytes=max_bytes,
        )  # fmt: skip

    def score(
        self,
        seed,
        continuation,
        *,
        covariates=None,
        seed_mask=None,
        end_token=None,
        initial_state=None,
    ):
        """The log-likelihood of a given continuation after `seed`, per row.

        One teacher-forced pass reads the seed and the continuation (all but
        its last element) and sums the log-probabilities of each element of
        the continuation. For token models: at temperature 1, up to and
        including the first `end_token`; it equals the scores that a
        `BeamSampler` with `return_all_beams=True` gives its own sequences.
        For a `distribution`: its `log_prob`, summed over steps and features,
        with the scale of `scaling="mean"` taken from the seed, as in
        `generate`.

        Args:
            seed: `(batch, seed_time)` integer ids, or `(batch, seed_time,
                features)` values for a distribution, as for `generate`.
            continuation: `(batch, steps)` integer ids, or `(batch, steps,
                features)` values, to score; same batch as the seed.
            covariates: for a layer built with covariates, floats of shape
                `(batch, seed_time + steps - 1, num_covariates)`, as for
                `generate`.
            seed_mask: optional boolean `(batch, seed_time)`, as for
                `generate`.
            end_token: optional int: tokens after the first `end_token` of a
                row do not count.
            initial_state: optional flat list of state tensors to start from.

        Returns:
            float32 `(batch,)`: the summed log-probabilities.

        Raises:
            ValueError: on a layer with neither a sampler nor a distribution
                (continuous values have no log-probabilities), or for a
                continuation whose rank, batch or features differ from the
                seed's, continuation ids outside the vocabulary, or a NaN or
                infinity in the continuation; as `generate` for the other
                arguments.
            TypeError: for a continuation of the wrong dtype.

        Examples:
            >>> layer = selffeed_keras.SelfFeedingRNN(
            ...     keras.layers.GRUCell(8),
            ...     encoder=keras.layers.Embedding(5, 4),
            ...     head=keras.layers.Dense(5),
            ...     sampler="greedy",
            ... )
            >>> tuple(layer.score(np.array([[1, 2]]), np.array([[3, 4, 0]])).shape)
            (1,)
        """
        return _score.score(
            self,
            seed,
            continuation,
            covariates=covariates,
            seed_mask=seed_mask,
            end_token=end_token,
            initial_state=initial_state,
        )

    def history_state(
        self, history, *, context=None, history_mask=None, context_mask=None
    ):
        """A state to start from whose history holds elements the cell never read.

        Lags read the history; the cell does not step over it. A forecast at
        origin `t` with lag 336 reads element `t - 335`: instead of a seed of
        336 steps or more, read a short seed (the context) and hand in the
        elements before it here, as DeepAR does. Pass the result as
        `initial_state` to `generate`, `score` or the call (also in
        training: one state per window, as inputs of a functional model).
        On a layer that was never called it builds nothing but the encoder,
        so the states for training can be made before the model: the
        layer's first call still decides whether it reads covariates.

        Args:
            history: `(batch, time, features)` values, or `(batch, time)` ids
                for token models: the elements just before the seed. Only the
                last `max(lags) - 1` valid ones are kept; with fewer, lags
                read zeros before the first.
            context: optional, for `scaling="mean"`: the seed that the call
                will read, whose mean absolute value gives the scale (as
                `generate` takes it from its seed). Without it the scale
                comes from `history`.
            history_mask: optional boolean `(batch, time)`: which elements of
                `history` are real.
            context_mask: optional boolean `(batch, context_time)`: which
                steps of `context` are real, as the `seed_mask` that the call
                will get: the scale is the mean over those steps only, as
                `generate` takes it. Every row needs one real step. Without
                it every step of `context` counts, padding included.

        Returns:
            The flat state: the cell's zero states, the history (encoded and
            scaled), and the scale with `scaling="mean"`.

        Raises:
            ValueError: on a layer with `lags=(1,)`, which keeps no history;
                for a `history` or `context` of the wrong rank, feature size
                or with NaNs or infinities at real steps, a `context` whose
                rows or features differ from `history`'s, a `context` on a
                layer without `scaling="mean"`, a `history_mask` or
                `context_mask` of another shape than the first two axes of
                `history` or `context`, a `context_mask` without a
                `context` or with a row of no real step, or token ids
                outside the encoder's vocabulary.
            TypeError: for a `history` or `context` that does not hold
                numbers of the layer's kind (ids for token models), or a
                `history_mask` or `context_mask` that is not boolean.

        Examples:
            >>> layer = selffeed_keras.SelfFeedingRNN(
            ...     keras.layers.GRUCell(4), head=keras.layers.Dense(1), lags=(1, 24)
            ... )
            >>> past = np.ones((2, 100, 1), "float32")
            >>> state = layer.history_state(past)
            >>> [tuple(s.shape) for s in state]
            [(2, 4), (2, 23, 1)]
            >>> tuple(layer.generate(past[:, -3:], 5, initial_state=state).shape)
            (2, 5, 1)
        """
        return _history_state.history_state(
            self, history, context, history_mask, context_mask
        )

    def observe(self, values, state=None, covariates=None, mask=None):
        """Reads values into a state, teacher-forced, as `generate` reads a seed.

        For forecasting online: keep one state per series, read each value
        as it arrives, and forecast from the state with `generate(...,
        initial_state=state)`, instead of reading the whole context again
        for every forecast. The values are read exactly as `generate` reads
        its seed (the same code), and the state returned is exactly what
        `generate`, `score` and the call take as `initial_state`.

        No value is read twice: `generate(seed, steps, initial_state=state)`
        reads every step of its seed (its last included) after the state,
        and draws its first element from the prediction after the seed's
        last step. So forecast from a state that has read all but the last
        value(s), with those as the seed (at least one step):
        `generate(x[:, -1:], n, initial_state=observe(x[:, :-1]))` equals
        `generate(x, n)`, and reading a series in pieces equals reading it
        at once: `observe(b, state=observe(a))` equals `observe(x)` for `x`
        the concatenation of `a` and `b` along time (their masks and
        covariates cut alike). Both hold up to float rounding, with lags,
        covariates, masks and distributions, on every backend.

        Many series in one call: each row is a series with its own state.
        A `mask` of False for a row means "nothing new for this row": its
        state comes back unchanged, so a service updating 10,000 series
        makes one call, marking in `mask` the rows (and steps) that
        received a value.

        Gaps are not masks. A masked step is not read at all, and lags
        count a row's valid elements, so masking a value that never arrived
        would shift every lag of the series by one for good. A missing
        value is a NaN at a step the mask keeps (a NaN in any feature makes
        the whole step missing): the row reads its last value again (as it
        was encoded and scaled; zeros before its first value), the cell
        steps, and the step counts in the lags, so that lag 48 of a
        half-hourly series stays a day back. A layer with `lags=(1,)` keeps
        no last value and refuses NaNs: fill the gap yourself, or mask the
        step.

        With `scaling="mean"`, a row's scale is set once, by the first call
        that reads a value of the row: from its first `context_length`
        values (all of that call's values with `context_length=None`), not
        counting masked steps and gaps, as training takes a window's scale
        from its first `context_length` steps. The state then carries it
        unchanged (a row that has read no value holds 0, "not set yet"; a
        state from `history_state` carries that method's scale). So pieces
        equal the whole, `observe(b, state=observe(a))` equal to
        `observe(x)`, wherever every row of `a` has at least
        `context_length` values; and `generate(x[:, -1:], n,
        initial_state=observe(x[:, :-1]))` equals `generate` on all of `x`
        from a zero state that carries the same scale (without one,
        `generate` takes the scale from its whole seed). The lag history
        holds scaled values and the cell state cannot be rescaled: to
        refresh the scale (after the level of a series has drifted), read a
        recent window again with `state=None`, which sets the scale anew
        from its first `context_length` values.

        `observe` runs one compiled program per combination of optional
        arguments, traced by the same machinery as `generate`'s: on
        TensorFlow a `tf.function` with an input signature (a new number
        of values or rows traces nothing), on JAX a `jax.jit` program per
        batch size and bucket of lengths (each at most a quarter longer
        than the last: the values are padded on the left with masked
        steps), and on torch an eager loop, one step per value.

        Args:
            values: `(batch, time, features)` values for continuous models
                (NaN for a missing value, with lags), `(batch, time)`
                integer ids for token models; at least one step.
            state: optional flat list of state tensors to start from, as
                `observe`, `history_state`, `generate(...,
                return_state=True)` or a call with `return_state=True`
                return; None starts as `generate` does without
                `initial_state`: the cell's zero state, an empty history,
                no scale yet.
            covariates: for a layer built with covariates, floats of shape
                `(batch, time, num_covariates)`: column `t` is read with
                `values[:, t]`, as in the call and `generate`'s seed. Finite
                at every step the mask keeps, gaps included.
            mask: optional boolean `(batch, time)`: which steps hold a new
                value; False steps are not read (a row of False keeps its
                state). Unlike `generate`'s `seed_mask`, a row may have no
                True. An `Embedding(mask_zero=True)` encoder adds its own
                mask of the padding id.

        Returns:
            The flat state after the values: the cell's states, then with
            lags the history `(batch, max(lags) - 1, width)`, then with
            `scaling="mean"` the scale `(batch, features)`, as the class
            docstring's "State" describes.

        Raises:
            ValueError: for `values` of the wrong rank or feature size,
                with an infinity, with a NaN on a layer with `lags=(1,)`, or
                outside the distribution's support (token ids outside the
                vocabulary); a `mask` of another shape than the first two
                axes of `values`; a `state` whose tensors' number or shapes
                (batch included) differ from the state's, or that holds a
                NaN or an infinity; covariates missing, unexpected, of the
                wrong shape or not finite.
            TypeError: for arguments of the wrong type or dtype, or a call
                inside a caller's `jax.jit`.

        Examples:
            Read a series in pieces, then forecast from the state:

            >>> layer = selffeed_keras.SelfFeedingRNN(
            ...     keras.layers.GRUCell(8), head=keras.layers.Dense(1), lags=(1, 4)
            ... )
            >>> x = np.sin(np.linspace(0, 3, 30, dtype="float32"))[None, :, None]
            >>> state = layer.observe(x[:, :20])
            >>> state = layer.observe(x[:, 20:29], state=state)
            >>> whole = layer.generate(x, 5)
            >>> online = layer.generate(x[:, 29:], 5, initial_state=state)
            >>> bool(np.allclose(whole, online, atol=1e-5))
            True

            Two series, of which only the first received a value; a NaN
            is a value that never arrived:

            >>> both = layer.observe(np.concatenate([x, x])[:, :29])
            >>> new = np.array([[[np.nan]], [[0.0]]], "float32")
            >>> after = layer.observe(new, both, mask=np.array([[True], [False]]))
            >>> [tuple(s.shape) for s in after]
            [(2, 8), (2, 3, 1)]
            >>> bool(np.array_equal(after[0][1], both[0][1]))  # row 1 unchanged
            True
        """
        return _calls.observe(self, values, state, covariates, mask)

    def _generation_functions(self):
        """The layer's `_generate.Generation`, made on first use."""
        return _calls.generation(self)

    # --------------------------------------------------------- serialization

    def save_own_variables(self, store):
        """Saves the layer's variables, its seed generator's state and its lags.

        Args:
            store: the dict-like store Keras saves the layer's state in.
        """
        super().save_own_variables(store)
        _saving.save(store, self.seed_generator, self.lags)

    def load_own_variables(self, store):
        """Loads what `save_own_variables` saved; older files lack the seed state.

        Args:
            store: the dict-like store Keras loads the layer's state from.

        Raises:
            ValueError: for weights saved by a layer with other `lags`.
        """
        store, state = _saving.split(store, self.lags)
        super().load_own_variables(store)
        _saving.load(state, self.seed_generator)

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # `tf.train.Checkpoint` (and so a custom loop's checkpoints) saves the
        # seed generator's state too, which it does not see by itself.
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "checkpoint":
            children[_saving.KEY] = self.seed_generator.state
        return children

    def get_config(self):
        """Returns the layer's config, nested objects serialized.

        The cell, head, encoder, sampler and any schedule are serialized
        with `keras.saving.serialize_keras_object`; nothing needs unsafe
        deserialization.

        Returns:
            A JSON-serializable dict that `from_config` takes.

        Examples:
            >>> layer = selffeed_keras.SelfFeedingRNN(keras.layers.GRUCell(4))
            >>> clone = selffeed_keras.SelfFeedingRNN.from_config(layer.get_config())
            >>> clone.cell.units
            4
        """
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "cell": serialize(self.cell),
            "head": serialize(self.head),
            "encoder": serialize(self.encoder),
            "sampler": serialize(self.sampler),
            "return_state": self.return_state,
            "random_seed": self.random_seed,
            "sampling_probability": (
                self.sampling_probability
                if isinstance(self.sampling_probability, (int, float))
                else serialize(self.sampling_probability)
            ),
            "backprop_through_feedback": self.backprop_through_feedback,
            "lags": list(self.lags),
            "jit_compile": self.jit_compile,
            "distribution": serialize(self.distribution),
            "scaling": self.scaling,
            "context_length": self.context_length,
        }

    @classmethod
    def from_config(cls, config):
        """Creates the layer from `get_config()`'s output.

        Args:
            config: a dict from `get_config`.

        Returns:
            A new, unbuilt `SelfFeedingRNN`.
        """
        config = dict(config)
        for key in ("cell", "head", "encoder", "sampler", "distribution"):
            if key in config:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        if isinstance(config.get("sampling_probability"), dict):
            config["sampling_probability"] = schedules.get(
                config["sampling_probability"]
            )
        return cls(**config)
