"""nuScenes categories, attributes and visibility levels, and the 10 simulated object classes."""
from dataclasses import dataclass
from typing import Optional

__all__ = [
    'CATEGORIES', 'ATTRIBUTES', 'VISIBILITY_LEVELS', 'CategoryVariant', 'ObjectClass',
    'OBJECT_CLASSES', 'CLASS_NAMES', 'visibility_token'
]

# The 23 annotation categories of the v1.0 release with their lidarseg class index.
CATEGORIES = (
    ('human.pedestrian.adult', 'Adult subcategory.', 2),
    ('human.pedestrian.child', 'Child subcategory.', 3),
    ('human.pedestrian.wheelchair', 'Wheelchairs, not counting the person in it.', 8),
    ('human.pedestrian.stroller', 'Strollers, not counting the person pushing it.', 7),
    ('human.pedestrian.personal_mobility',
     'Small electric or self-propelled vehicles (skateboards, segways, scooters).', 5),
    ('human.pedestrian.police_officer', 'Police officer.', 6),
    ('human.pedestrian.construction_worker', 'Construction worker.', 4),
    ('animal', 'All animals, e.g. cats, dogs, deer.', 1),
    ('vehicle.car', 'Vehicle designed primarily for personal use, e.g. sedans, hatch-backs, '
     'wagons, vans, mini-vans, SUVs and jeeps.', 17),
    ('vehicle.motorcycle', 'Gasoline or electric powered 2-wheeled vehicle designed to move '
     'rapidly (at the speed of standard cars) on the road surface.', 21),
    ('vehicle.bicycle', 'Human or electric powered 2-wheeled vehicle designed to travel at '
     'lower speeds either on the edge of the road surface, sidewalks or bike paths.', 14),
    ('vehicle.bus.bendy', 'Bendy bus subcategory. Annotate each section of the bendy bus '
     'individually.', 15),
    ('vehicle.bus.rigid', 'Rigid bus subcategory.', 16),
    ('vehicle.truck', 'Vehicles primarily designed to haul cargo including pick-ups, lorries, '
     'trucks and semi-tractors.', 23),
    ('vehicle.construction', 'Vehicles primarily designed for construction. Typically very '
     'slow moving or stationary.', 18),
    ('vehicle.emergency.ambulance', 'All types of ambulances.', 19),
    ('vehicle.emergency.police', 'All types of police vehicles.', 20),
    ('vehicle.trailer', 'Any vehicle trailer, both for trucks, cars and bikes.', 22),
    ('movable_object.barrier', 'Temporary road barrier placed in the scene in order to redirect '
     'traffic.', 9),
    ('movable_object.trafficcone', 'All types of traffic cone.', 12),
    ('movable_object.pushable_pullable', 'Objects that a pedestrian may push or pull, e.g. '
     'dolleys, wheel barrows, garbage-bins, or shopping carts.', 11),
    ('movable_object.debris', 'Movable object that is left on the driveable surface.', 10),
    ('static_object.bicycle_rack', 'Area or device intended to park or secure the bicycles in '
     'a row.', 13),
)

ATTRIBUTES = (
    ('vehicle.moving', 'Vehicle is moving.'),
    ('vehicle.stopped', 'Vehicle, with a driver/rider in/on it, is currently stationary but '
     'has an intent to move.'),
    ('vehicle.parked', 'Vehicle is stationary (usually for longer duration) with no immediate '
     'intent to move.'),
    ('cycle.with_rider', 'There is someone riding the bicycle or motorcycle.'),
    ('cycle.without_rider', 'There is nobody riding the bicycle or motorcycle.'),
    ('pedestrian.sitting_lying_down', 'The human is sitting or lying down.'),
    ('pedestrian.standing', 'The human is standing.'),
    ('pedestrian.moving', 'The human is moving.'),
)

# (token, level, description); the visibility table is the one table whose tokens are not hex.
VISIBILITY_LEVELS = (
    ('1', 'v0-40', 'visibility of whole object is between 0 and 40%'),
    ('2', 'v40-60', 'visibility of whole object is between 40 and 60%'),
    ('3', 'v60-80', 'visibility of whole object is between 60 and 80%'),
    ('4', 'v80-100', 'visibility of whole object is between 80 and 100%'),
)


@dataclass(frozen=True)
class CategoryVariant:
    """A nuScenes category a class is drawn as, with its mean size ``(w, l, h)`` in metres."""

    category: str
    probability: float
    size_wlh: tuple


@dataclass(frozen=True)
class ObjectClass:
    """One of the 10 detection classes as the simulator draws it.

    Attributes:
        name: mmdet3d class name.
        variants: nuScenes categories it is annotated as.
        speed_range: Speeds of the moving ones (m/s).
        moving_probability: Fraction of the instances that move.
        frequency: Relative frequency beyond the one instance per scene every class gets.
        attribute_group: 'vehicle', 'cycle', 'pedestrian' or None (no attribute).
    """

    name: str
    variants: tuple
    speed_range: tuple
    moving_probability: float
    frequency: float
    attribute_group: Optional[str]


OBJECT_CLASSES = (
    ObjectClass('car', (CategoryVariant('vehicle.car', 1.0, (1.95, 4.60, 1.72)), ), (3.0, 11.0),
                0.5, 0.34, 'vehicle'),
    ObjectClass('truck', (CategoryVariant('vehicle.truck', 1.0, (2.51, 6.93, 2.84)), ), (2.5, 9.0),
                0.4, 0.07, 'vehicle'),
    ObjectClass('construction_vehicle', (CategoryVariant('vehicle.construction', 1.0,
                                                         (2.85, 6.37, 3.19)), ), (0.5, 2.5), 0.15,
                0.03, 'vehicle'),
    ObjectClass('bus', (CategoryVariant('vehicle.bus.rigid', 0.85, (2.94, 10.9, 3.47)),
                        CategoryVariant('vehicle.bus.bendy', 0.15, (2.95, 16.0, 3.30))),
                (2.0, 9.0), 0.6, 0.03, 'vehicle'),
    ObjectClass('trailer', (CategoryVariant('vehicle.trailer', 1.0, (2.90, 12.29, 3.87)), ),
                (2.0, 7.0), 0.3, 0.03, 'vehicle'),
    ObjectClass('barrier', (CategoryVariant('movable_object.barrier', 1.0, (2.53, 0.50, 0.98)), ),
                (0.0, 0.0), 0.0, 0.10, None),
    ObjectClass('motorcycle', (CategoryVariant('vehicle.motorcycle', 1.0, (0.77, 2.11, 1.47)), ),
                (3.0, 10.0), 0.5, 0.04, 'cycle'),
    ObjectClass('bicycle', (CategoryVariant('vehicle.bicycle', 1.0, (0.60, 1.70, 1.28)), ),
                (2.0, 6.0), 0.5, 0.05, 'cycle'),
    ObjectClass('pedestrian',
                (CategoryVariant('human.pedestrian.adult', 0.86, (0.67, 0.73, 1.77)),
                 CategoryVariant('human.pedestrian.child', 0.04, (0.52, 0.52, 1.32)),
                 CategoryVariant('human.pedestrian.construction_worker', 0.06, (0.72, 0.75, 1.78)),
                 CategoryVariant('human.pedestrian.police_officer', 0.04,
                                 (0.70, 0.73, 1.80))), (0.8, 1.7), 0.6, 0.21, 'pedestrian'),
    ObjectClass('traffic_cone', (CategoryVariant('movable_object.trafficcone', 1.0,
                                                 (0.41, 0.41, 1.07)), ), (0.0, 0.0), 0.0, 0.10,
                None),
)

CLASS_NAMES = tuple(cls.name for cls in OBJECT_CLASSES)


def visibility_token(visible_fraction: float) -> str:
    """Visibility token ('1'-'4') of an object of which ``visible_fraction`` is seen."""
    for token, bound in (('1', 0.4), ('2', 0.6), ('3', 0.8)):
        if visible_fraction <= bound:
            return token
    return '4'
