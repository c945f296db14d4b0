"""Train one model from the composed Hydra config; every run gets its own folder under experiments/.

python run.py                                        # SignTransformer on synthetic data
python run.py model=iv3_gru data=features data.root=data/processed
python run.py -m optim.lr=1e-3,1e-4 trainer.max_epochs=1   # a sweep, one folder per job
python run.py trainer.resume=experiments/runs/<run> trainer.max_epochs=50   # signlang/training/resume.py
torchrun --nproc_per_node=4 run.py data=keypoints    # one process per GPU, one run folder
"""

import sys

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from signlang.core.errors import exit_on_user_error, refuse_and_exit
from signlang.evaluation.evaluate import evaluate_best
from signlang.figures.plots import write_run_curves
from signlang.runs.folder import RunFolder, register_resolvers
from signlang.training.callbacks import build_callbacks
from signlang.training.distributed import init_distributed
from signlang.training.loggers import build_loggers, run_tags
from signlang.training.resume import launch_args, restore_config
from signlang.training.runtime import seed_everything

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
@exit_on_user_error
def main(cfg: DictConfig) -> float:
    """Compose, instantiate, train, evaluate. Returns the best val gloss accuracy (for sweepers)."""
    dist = init_distributed(cfg.trainer.device)  # a no-op unless launched by torchrun
    run = RunFolder.from_hydra(resuming=bool(cfg.trainer.resume), dist=dist)
    with run.recording():  # summary.json records failed / interrupted if anything below raises
        if cfg.trainer.resume:  # the run's own config, with this command's overrides on top
            cfg = restore_config(cfg, run.path)
        config = OmegaConf.to_container(cfg, resolve=True)
        run.attach(build_loggers(cfg.logger), config, run_tags(cfg), resumed=bool(cfg.trainer.resume))
        seed_everything(cfg.trainer.seed, deterministic=cfg.trainer.deterministic)
        data = instantiate(cfg.data, transform=instantiate(cfg.transform))  # normalised once, augmented per batch
        model = instantiate(cfg.model)
        trainer = instantiate(cfg.trainer, callbacks=build_callbacks(cfg.callbacks))
        if cfg.pretrain and not cfg.trainer.resume:  # pretrain=masked: the encoder pre-trained first
            instantiate(cfg.pretrain).run(model, data, run, trainer, dist)
        summary = trainer.fit(model, data, instantiate(cfg.optim), instantiate(cfg.scheduler), run, config, dist)
        if dist.is_main:  # the test (else val) report, once, by rank 0
            final = evaluate_best(run.path, model, data, trainer.device)
            write_run_curves(run.path)
            summary = run.set_status("finished", final=final)
        dist.barrier()
    dist.close()
    best = summary.get("best") or {}
    return best.get("val_gloss_acc", float("nan"))


if __name__ == "__main__":
    sys.argv[1:] = refuse_and_exit(launch_args, sys.argv[1:])  # trainer.resume: the run's own folder and choices
    main()
