"""What CoinRun's own buttons do when held the way code consistency holds a code (issue 31): the game's ceiling.

    python -m benchmarks.coinrun_buttons --states 300

From states the behaviour policy reaches (one every 10 of its steps, on fresh levels), each button is held for
`studio.behaviour.CONSISTENCY_STEPS` steps from the same saved state (Procgen's get_state / set_state), and the
player's move is read off the frames as the evaluation reads a model's (`coinrun.player_motion`). The player
keeps its momentum, so a button's effect over two steps depends on how it was moving: this is how consistent a
code that meant "the button" could be, against which a model's codes, which mean what the frames show, compare.
"""

from __future__ import annotations

import argparse

import numpy as np

from studio.behaviour import CONSISTENCY_STEPS
from studio.games import coinrun

BUTTONS = {name: coinrun.ACTION_NAMES.index(name) for name in ("LEFT", "RIGHT", "NOOP", "UP", "LEFT+UP", "RIGHT+UP")}
FIRST_LEVEL = 700_000  # fresh levels, apart from training, held-out, reference and screen-recording ones
EVERY = 10  # policy steps between tested states


def held_moves(states: int, seed: int) -> dict[str, np.ndarray]:
    """button -> [states, 2]: the player's way sideways and vertically (-1 / 0 / +1 / NaN) with it held."""
    rng = np.random.default_rng(seed)
    env = coinrun.open_environment(FIRST_LEVEL)
    policy = coinrun.behaviour_policy(0.3, 0, 4, rng)
    moves: dict[str, list[np.ndarray]] = {name: [] for name in BUTTONS}
    frame, _ = env.reset()
    step = 0
    while len(moves["LEFT"]) < states:
        frame, _, ended = env.step(policy.act(frame, env.no_ram))
        step += 1
        if step % EVERY or ended:
            continue
        state = env.env.callmethod("get_state")
        for name, action in BUTTONS.items():
            env.env.callmethod("set_state", state)
            sequence = [env.env.observe()[1]["rgb"][0].copy()]
            for _ in range(CONSISTENCY_STEPS):
                env.env.act(np.array([action], np.int32))
                sequence.append(env.env.observe()[1]["rgb"][0].copy())
            moves[name].append(coinrun.player_motion(np.stack(sequence)[None])[0])
        env.env.callmethod("set_state", state)
    env.close()
    return {name: np.stack(m) for name, m in moves.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=300)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    print(f"each button held {CONSISTENCY_STEPS} steps from {args.states} states of the behaviour policy's play:")
    for name, moves in held_moves(args.states, args.seed).items():
        sideways, vertical = moves[:, 0], moves[:, 1]
        ways = ((-1, "left"), (0, "still"), (1, "right"))
        shares = " ".join(f"{way} {np.mean(sideways == v):.2f}" for v, way in ways)
        print(f"  {name:9s} sideways: {shares} | up {np.mean(vertical == 1):.2f}")


if __name__ == "__main__":
    main()
