"""Slow, readable NumPy references for every update rule: the ground truth.

Written from the papers' equations (in PyTorch's conventions, as the kernels
promise), one step per call, with no shared code with fastgd. Arithmetic
happens in the dtype of the arrays (NumPy keeps float32 with Python scalars).

Each ``ref_*`` function takes ``theta`` (updated copy returned), ``g``,
``state`` (a dict it updates, created on the first call when empty), ``t``
(1 for the first step) and the hyperparameters, and returns the new theta.
State keys match the optimizer's ``state`` dict.
"""

import math

import numpy as np


def _zeros(theta):
    return np.zeros_like(theta)


def ref_sgd(theta, g, state, t, lr, momentum=0.0, dampening=0.0, nesterov=False,
            weight_decay=0.0):
    if weight_decay:
        g = g + weight_decay * theta
    if momentum:
        # the buffer starts at the first gradient it sees (torch's buffer is None until then;
        # fastgd's state says so with momentum_started = 0)
        if ("momentum_buffer" not in state or state["momentum_buffer"].size == 0
                or state.get("momentum_started", 1.0) == 0.0):
            b = g.copy()
        else:
            b = momentum * state["momentum_buffer"] + (1 - dampening) * g
        state["momentum_buffer"] = b
        state["momentum_started"] = 1.0
        g = g + momentum * b if nesterov else b
    return theta - lr * g


def ref_adagrad(theta, g, state, t, lr, lr_decay=0.0, weight_decay=0.0,
                initial_accumulator_value=0.0, eps=1e-10):
    if "sum" not in state:
        state["sum"] = np.full_like(theta, initial_accumulator_value)
    if weight_decay:
        g = g + weight_decay * theta
    clr = lr / (1 + (t - 1) * lr_decay)
    state["sum"] = state["sum"] + g * g
    return theta - clr * g / (np.sqrt(state["sum"]) + eps)


def ref_rmsprop(theta, g, state, t, lr, alpha=0.99, eps=1e-8, weight_decay=0.0,
                momentum=0.0, centered=False):
    if weight_decay:
        g = g + weight_decay * theta
    v = alpha * state.get("square_avg", _zeros(theta)) + (1 - alpha) * g * g
    state["square_avg"] = v
    if centered:
        a = alpha * state.get("grad_avg", _zeros(theta)) + (1 - alpha) * g
        state["grad_avg"] = a
        s = np.sqrt(v - a * a) + eps
    else:
        s = np.sqrt(v) + eps
    if momentum > 0:
        b = momentum * state.get("momentum_buffer", _zeros(theta)) + g / s
        state["momentum_buffer"] = b
        return theta - lr * b
    return theta - lr * g / s


def _adam(theta, g, state, t, lr, betas, eps, l2, decoupled, amsgrad):
    beta1, beta2 = betas
    if decoupled:
        theta = theta * (1 - lr * decoupled)
    if l2:
        g = g + l2 * theta
    m = beta1 * state.get("exp_avg", _zeros(theta)) + (1 - beta1) * g
    v = beta2 * state.get("exp_avg_sq", _zeros(theta)) + (1 - beta2) * g * g
    state["exp_avg"], state["exp_avg_sq"] = m, v
    if amsgrad:
        v = np.maximum(state.get("max_exp_avg_sq", _zeros(theta)), v)
        state["max_exp_avg_sq"] = v
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adam(theta, g, state, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
             amsgrad=False):
    return _adam(theta, g, state, t, lr, betas, eps, weight_decay, 0.0, amsgrad)


def ref_adamw(theta, g, state, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
              amsgrad=False):
    return _adam(theta, g, state, t, lr, betas, eps, 0.0, weight_decay, amsgrad)


def ref_adamax(theta, g, state, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    beta1, beta2 = betas
    if weight_decay:
        g = g + weight_decay * theta
    m = beta1 * state.get("exp_avg", _zeros(theta)) + (1 - beta1) * g
    u = np.maximum(beta2 * state.get("exp_inf", _zeros(theta)), np.abs(g) + eps)
    state["exp_avg"], state["exp_inf"] = m, u
    return theta - lr / (1 - beta1 ** t) * m / u


def ref_nadam(theta, g, state, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              momentum_decay=4e-3, decoupled_weight_decay=False):
    beta1, beta2 = betas
    if weight_decay:
        if decoupled_weight_decay:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    prod = state.get("mu_product", 1.0) * mu_t
    state["mu_product"] = prod
    m = beta1 * state.get("exp_avg", _zeros(theta)) + (1 - beta1) * g
    v = beta2 * state.get("exp_avg_sq", _zeros(theta)) + (1 - beta2) * g * g
    state["exp_avg"], state["exp_avg_sq"] = m, v
    denom = np.sqrt(v / (1 - beta2 ** t)) + eps
    theta = theta - lr * (1 - mu_t) / (1 - prod) * g / denom
    return theta - lr * mu_next / (1 - prod * mu_next) * m / denom


def ref_radam(theta, g, state, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              decoupled_weight_decay=False):
    beta1, beta2 = betas
    if weight_decay:
        if decoupled_weight_decay:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
    m = beta1 * state.get("exp_avg", _zeros(theta)) + (1 - beta1) * g
    v = beta2 * state.get("exp_avg_sq", _zeros(theta)) + (1 - beta2) * g * g
    state["exp_avg"], state["exp_avg_sq"] = m, v
    m_hat = m / (1 - beta1 ** t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
    if rho_t > 5:
        r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return theta - lr * m_hat * r * math.sqrt(1 - beta2 ** t) / (np.sqrt(v) + eps)
    return theta - lr * m_hat


def ref_asgd(theta, g, state, t, lr, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0):
    eta = state.get("eta", lr)
    mu = state.get("mu", 1.0)
    if weight_decay:
        g = g + weight_decay * theta
    theta = theta * (1 - lambd * eta) - eta * g
    ax = state.get("ax", _zeros(theta))
    state["ax"] = theta.copy() if mu == 1 else ax + mu * (theta - ax)
    state["eta"] = lr / (1 + lambd * lr * t) ** alpha
    state["mu"] = 1 / max(1, t - t0)
    return theta


def ref_adadelta(theta, g, state, t, lr, rho=0.9, eps=1e-6, weight_decay=0.0):
    if weight_decay:
        g = g + weight_decay * theta
    v = rho * state.get("square_avg", _zeros(theta)) + (1 - rho) * g * g
    u = state.get("acc_delta", _zeros(theta))
    delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
    state["square_avg"] = v
    state["acc_delta"] = rho * u + (1 - rho) * delta * delta
    return theta - lr * delta


def ref_rprop(theta, g, state, t, lr, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
    eta_minus, eta_plus = etas
    if not state.get("step_size_started", 0.0):
        # the step sizes start at the learning rate of the first step
        state["step_size"] = np.full_like(theta, lr)
        state["prev"] = _zeros(theta)
        state["step_size_started"] = 1.0
    s = np.sign(g * state["prev"])
    factor = np.where(s > 0, eta_plus, np.where(s < 0, eta_minus, 1.0)).astype(theta.dtype)
    step = np.clip(state["step_size"] * factor, *step_sizes).astype(theta.dtype)
    g = np.where(s < 0, 0, g).astype(theta.dtype)
    state["step_size"], state["prev"] = step, g
    return theta - np.sign(g) * step


def ref_lion(theta, g, state, t, lr, betas=(0.9, 0.99), weight_decay=0.0):
    beta1, beta2 = betas
    m = state.get("exp_avg", _zeros(theta))
    theta = theta * (1 - lr * weight_decay)
    theta = theta - lr * np.sign(beta1 * m + (1 - beta1) * g)
    state["exp_avg"] = beta2 * m + (1 - beta2) * g
    return theta


def _schedulefree_weights(state, t, lr, warmup_steps, r, weight_lr_power):
    """(lr_t, c_t) of "The Road Less Scheduled"; z and x start at theta on the first step."""
    lr_t = lr * t / warmup_steps if t - 1 < warmup_steps else lr
    lr_max = max(lr_t, state.get("lr_max", -1.0))
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE: inf, not OverflowError
        weight = np.float64(t) ** r * np.float64(lr_max) ** weight_lr_power
    state["lr_max"] = lr_max
    state["weight_sum"] = state.get("weight_sum", 0.0) + weight
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return lr_t, weight / state["weight_sum"]


def ref_sgdschedulefree(theta, g, state, t, lr, momentum=0.9, weight_decay=0.0,
                        warmup_steps=0, r=0.0, weight_lr_power=2.0):
    if state.get("lr_max", -1.0) < 0:
        state["z"], state["x"] = theta.copy(), theta.copy()
    lr_t, c = _schedulefree_weights(state, t, lr, warmup_steps, r, weight_lr_power)
    y = theta
    z = state["z"] - lr_t * (g + weight_decay * y)
    x = (1 - c) * state["x"] + c * z
    state["z"], state["x"] = z, x
    return momentum * x + (1 - momentum) * z


def ref_adamwschedulefree(theta, g, state, t, lr, betas=(0.9, 0.999), eps=1e-8,
                          weight_decay=0.0, warmup_steps=0, r=0.0, weight_lr_power=2.0,
                          decay_at_z=False):
    beta1, beta2 = betas
    if state.get("lr_max", -1.0) < 0:
        state["z"], state["x"] = theta.copy(), theta.copy()
        state["exp_avg_sq"] = _zeros(theta)
    lr_t, c = _schedulefree_weights(state, t, lr, warmup_steps, r, weight_lr_power)
    y, z = theta, state["z"]
    z = z - lr_t * weight_decay * (z if decay_at_z else y)
    v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
    z = z - lr_t * g / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    x = (1 - c) * state["x"] + c * z
    state["z"], state["x"], state["exp_avg_sq"] = z, x, v
    return beta1 * x + (1 - beta1) * z


def ref_prodigy(theta, g, state, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                decouple=True, use_bias_correction=False, safeguard_warmup=False, d0=1e-6,
                d_coef=1.0):
    beta1, beta2 = betas
    beta3 = math.sqrt(beta2)
    if not state.get("started", 0.0):
        state.update(p0=theta.copy(), s=_zeros(theta), exp_avg=_zeros(theta),
                     exp_avg_sq=_zeros(theta), started=1.0)
        state.setdefault("d", d0)
        state.setdefault("d_max", d0)
        state.setdefault("d_numerator", 0.0)
    d = state["d"]
    bias = math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) if use_bias_correction else 1.0
    dlr = d * lr * bias
    if weight_decay and not decouple:
        g = g + weight_decay * theta
    dot = float(np.dot(g.astype(np.float64), (state["p0"] - theta).astype(np.float64)))
    state["exp_avg"] = beta1 * state["exp_avg"] + d * (1 - beta1) * g
    state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + d * d * (1 - beta2) * g * g
    state["s"] = beta3 * state["s"] + (d / d0) * (d if safeguard_warmup else dlr) * g
    abs_s = float(np.abs(state["s"]).astype(np.float64).sum())
    if abs_s == 0:
        return theta
    numerator = state["d_numerator"] * beta3 + (d / d0) * dlr * dot
    d_max = max(state["d_max"], d_coef * numerator / abs_s)
    state.update(d_numerator=numerator, d=d_max, d_max=d_max)
    if weight_decay and decouple:
        theta = theta * (1 - weight_decay * dlr)
    return theta - dlr * state["exp_avg"] / (np.sqrt(state["exp_avg_sq"]) + d_max * eps)


def _segments(theta, shapes):
    """(slice, shape) of each segment of the flat vector (no shapes: one 1-D segment)."""
    shapes = [(theta.size,)] if shapes is None else [
        (s,) if isinstance(s, int) else tuple(s) for s in shapes]
    out, start = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append((slice(start, start + n), shape))
        start += n
    return out


def _rms(a):
    """|a|_2 / sqrt(size), accumulated in float64."""
    return math.sqrt(float(np.sum(a.astype(np.float64) ** 2))) / math.sqrt(a.size)


def ref_lamb(theta, g, state, t, lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
             shapes=None):
    beta1, beta2 = betas
    m = beta1 * state.get("exp_avg", _zeros(theta)) + (1 - beta1) * g
    v = beta2 * state.get("exp_avg_sq", _zeros(theta)) + (1 - beta2) * g * g
    state["exp_avg"], state["exp_avg_sq"] = m, v
    r = (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps) + weight_decay * theta
    out = theta.copy()
    for part, _ in _segments(theta, shapes):   # one trust ratio per segment (layer)
        w_norm, r_norm = _rms(theta[part]), _rms(r[part])
        trust = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        out[part] = theta[part] - theta.dtype.type(lr * trust) * r[part]
    return out


def ref_adafactor(theta, g, state, t, lr, beta2_decay=-0.8, eps=(0.0, 1e-3), d=1.0,
                  weight_decay=0.0, shapes=None):
    """torch.optim.Adafactor over the segments as separate tensors: the factored moment for
    the 2-D ones (state row_var, col_var: their rows' and columns' parts, in segment order),
    the vector form for the 1-D ones (variance)."""
    eps1, eps2 = eps
    if eps1 == 0:
        eps1 = float(np.finfo(theta.dtype).eps)
    segments = _segments(theta, shapes)
    dt = theta.dtype
    sizes = {"variance": sum(int(np.prod(s)) for _, s in segments if len(s) == 1),
             "row_var": sum(s[0] for _, s in segments if len(s) == 2),
             "col_var": sum(s[1] for _, s in segments if len(s) == 2)}
    for name, size in sizes.items():
        if name not in state:
            state[name] = np.zeros(size, dtype=dt)
    rate = dt.type(float(t) ** beta2_decay)
    used = dict.fromkeys(sizes, 0)
    out = theta.copy()
    for part, shape in segments:
        p, gs = theta[part].reshape(shape), g[part].reshape(shape)
        alpha = max(eps2, _rms(p)) * min(lr, 1 / math.sqrt(t))
        p = p * dt.type(1 - lr * weight_decay)
        if len(shape) == 2:
            rows, cols = shape
            R = state["row_var"][used["row_var"]:used["row_var"] + rows]   # views: updated in place
            C = state["col_var"][used["col_var"]:used["col_var"] + cols]
            used["row_var"] += rows
            used["col_var"] += cols
            sq = gs.astype(np.float64) ** 2
            R += (sq.mean(axis=1).astype(dt) - R) * rate
            C += (sq.mean(axis=0).astype(dt) - C) * rate
            v = np.outer(R, C) / max(dt.type(R.astype(np.float64).mean()), dt.type(eps1))
        else:
            V = state["variance"][used["variance"]:used["variance"] + p.size]
            used["variance"] += p.size
            V += (gs * gs - V) * rate
            v = V
        u = gs / np.sqrt(np.maximum(v, dt.type(eps1 * eps1)))
        out[part] = (p - dt.type(alpha / max(1.0, _rms(u) / d)) * u).ravel()
    return out


REFERENCES = {
    "sgd": ref_sgd, "adagrad": ref_adagrad, "rmsprop": ref_rmsprop, "adam": ref_adam,
    "adamw": ref_adamw, "adamax": ref_adamax, "nadam": ref_nadam, "radam": ref_radam,
    "asgd": ref_asgd, "adadelta": ref_adadelta, "rprop": ref_rprop, "lion": ref_lion,
    "sgdschedulefree": ref_sgdschedulefree, "adamwschedulefree": ref_adamwschedulefree,
    "prodigy": ref_prodigy, "lamb": ref_lamb,
    "adafactor": ref_adafactor,
}
